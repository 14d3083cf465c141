"""Random-policy collection from real gymnasium environments, one step at a time (the tutorial's way).

Framework-free (numpy + gymnasium), so the PyTorch reference can collect without JAX. Arrays are
preallocated to their final size, then filled row by row.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..transitions import Transitions
from .registry import env_spec

MAX_ROWS = 2**31 - 1


def check_collection_request(transitions: int | None, episodes: int | None, max_episode_steps: int) -> None:
    """The argument checks every collection backend shares."""
    if (transitions is None) == (episodes is None):
        raise UserError("give exactly one of transitions or episodes")
    if transitions is not None and transitions < 1:
        raise UserError(f"transitions must be >= 1, got {transitions}")
    if episodes is not None and episodes < 1:
        raise UserError(f"episodes must be >= 1, got {episodes}")
    if max_episode_steps < 1:
        raise UserError(f"max episode steps must be >= 1, got {max_episode_steps}")
    # Row, episode and step numbers are int32 in the file format.
    rows = transitions if transitions is not None else episodes * max_episode_steps
    if rows > MAX_ROWS:
        asked = (
            f"{transitions} transitions"
            if transitions is not None
            else f"{episodes} episodes of up to {max_episode_steps} steps"
        )
        raise UserError(f"{asked} exceed the {MAX_ROWS} rows a data file holds")


def collect_gymnasium(
    env_id: str,
    *,
    seed: int = 0,
    transitions: int | None = None,
    episodes: int | None = None,
    max_episode_steps: int | None = None,
    progress: bool = False,
) -> tuple[Transitions, np.ndarray]:
    """Run a uniformly random policy and record every step; return (data, cut episode ids).

    Episodes end on terminated or truncated, or after `max_episode_steps` steps (default: the
    spec's `max_episode_steps`; a capped episode's last step is marked truncated). `episodes=K`
    collects K whole episodes; `transitions=N` plays episodes until exactly N steps exist, and the episode cut short by
    that budget has its last row marked truncated and its id returned. The env is reset with
    `seed` once and the action sampler is seeded with it, so the same arguments give the same arrays.
    """
    import gymnasium as gym

    spec = env_spec(env_id)
    if max_episode_steps is None:
        max_episode_steps = spec.max_episode_steps
    check_collection_request(transitions, episodes, max_episode_steps)
    data = _preallocated(spec, transitions if transitions is not None else episodes * max_episode_steps)
    env = gym.make(env_id)
    env.action_space.seed(seed)
    bar = _progress_bar(transitions or episodes, "transitions" if transitions else "episodes", progress)
    on_step = bar.update if transitions is not None else None
    row, episode, cut = 0, 0, []
    state, _ = env.reset(seed=seed)
    while True:
        row = _play_episode(env, state, data, row, episode, max_episode_steps, on_step)
        if transitions is not None and row == transitions:
            if not (data.terminated[row - 1] or data.truncated[row - 1]):
                data.truncated[row - 1] = True
                cut.append(episode)
            break
        episode += 1
        if episodes is not None:
            bar.update(1)
            if episode == episodes:
                break
        state, _ = env.reset()
    bar.close()
    env.close()
    return data.take(slice(0, row)), np.asarray(cut, np.int32)


def _preallocated(spec, capacity: int) -> Transitions:
    """Uninitialised rows for `capacity` transitions of `spec`'s environment (flags start False)."""
    try:
        states = np.empty((capacity, spec.state_dim), np.float32)
        action_shape = (capacity,) if spec.discrete else (capacity, spec.action_space.shape[0])
        return Transitions(
            states=states,
            actions=np.empty(action_shape, np.int32 if spec.discrete else np.float32),
            next_states=np.empty_like(states),
            rewards=np.empty(capacity, np.float32),
            terminated=np.zeros(capacity, bool),
            truncated=np.zeros(capacity, bool),
            episode=np.empty(capacity, np.int32),
            step=np.empty(capacity, np.int32),
        )
    except MemoryError:
        raise UserError(f"not enough memory for {capacity} transitions of {spec.env_id}") from None


def _play_episode(env, state, data: Transitions, row: int, episode: int, max_episode_steps: int, on_step) -> int:
    """Fill `data` from `row` with random-policy steps of one episode from `state` until it terminates, is
    truncated, reaches `max_episode_steps` or fills `data`; call `on_step(1)` after each step (if given).
    Return the next free row."""
    capacity = data.size
    for step in range(max_episode_steps):
        action = env.action_space.sample()
        next_state, reward, term, trunc, _ = env.step(action)
        data.states[row], data.actions[row], data.next_states[row] = state, action, next_state
        data.rewards[row], data.episode[row], data.step[row] = reward, episode, step
        data.terminated[row] = term
        data.truncated[row] = (trunc or step == max_episode_steps - 1) and not term
        row += 1
        state = next_state
        if on_step is not None:
            on_step(1)
        if term or data.truncated[row - 1] or row == capacity:
            break
    return row


def _progress_bar(total: int, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=f" {unit}", desc="collecting", disable=not enabled, leave=False)
