"""A trained policy as files it can be loaded from and act with: DIR/policy.json + DIR/params.npz.

`wm-jax sac` and `wm-jax mbpo` write their final SAC actor to OUT/policy/, and `wm-jax dream --controller ppo`
its final PPO actor-critic (`save_policy`). `load_policy(path)` reads either back as a `Policy`, whose
`act(observations)` gives the greedy actions the runs' evaluations play (SAC's squashed mean; PPO's most
likely action, or its Gaussian mean clipped to the Box), numpy in and out. Only the policy's networks are
kept: not critics of SAC, buffers or checkpoints. The networks' structure is rebuilt from policy.json,
which must agree with the arrays in params.npz.
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
from flax import nnx

from ..atomic import atomic_write
from ..checkpoint import CheckpointError, flatten_params, unflatten_params
from ..config import PPOConfig, SACConfig
from ..errors import UserError
from .ppo import PPO
from .ppo import greedy_program as ppo_greedy_program
from .sac import SAC
from .sac import greedy_program as sac_greedy_program

POLICY_DIR = "policy"
POLICY_FILE = "policy.json"
PARAMS_FILE = "params.npz"
FORMAT_VERSION = 1
KINDS = ("sac", "ppo")


class PolicyError(UserError):
    """A missing, damaged or unknown policy export (the CLI prints it as a one-line error)."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """A loaded policy for `env_id`: `agent` is a `SAC` (from `wm-jax sac` or `wm-jax mbpo`) or a `PPO` (from
    `wm-jax dream --controller ppo`), `params` its networks' weights. `act(observations)` gives the greedy
    action of one observation (obs_dim,) or of a batch (N, obs_dim): an index per observation in a Discrete
    space, a vector inside the bounds of a Box."""

    env_id: str | None
    agent: SAC | PPO
    params: nnx.State

    @property
    def kind(self) -> str:
        return "sac" if isinstance(self.agent, SAC) else "ppo"

    @property
    def obs_dim(self) -> int:
        return self.agent.obs_dim

    def act(self, observations) -> np.ndarray:
        try:
            obs = np.asarray(observations, np.float32)
        except (TypeError, ValueError) as error:
            raise PolicyError(f"observations must be an array of numbers ({error})") from None
        if obs.ndim not in (1, 2) or obs.shape[-1] != self.obs_dim:
            raise PolicyError(
                f"the policy acts on observations of {self.obs_dim} values, (obs_dim,) or (N, obs_dim); "
                f"got shape {obs.shape}"
            )
        if not np.isfinite(obs).all():
            # A NaN observation would give a NaN action (SAC, a Box) or silently action 0 (a Discrete argmax).
            raise PolicyError("observations must be finite: got NaN or infinity")
        greedy = sac_greedy_program(self.agent) if self.kind == "sac" else ppo_greedy_program(self.agent)
        actions = np.asarray(greedy(self.params, obs.reshape(-1, self.obs_dim)))
        return actions[0] if obs.ndim == 1 else actions


def save_policy(agent: SAC | PPO, params: nnx.State, directory: str | os.PathLike, env_id: str | None = None) -> str:
    """Write `agent`'s networks `params` (a SAC actor's, or PPO's actor-critic) into `directory` (created if
    needed) as policy.json + params.npz; returns the directory."""
    directory = os.fspath(directory)
    box = agent.low is not None
    description = {
        "format_version": FORMAT_VERSION,
        "kind": "sac" if isinstance(agent, SAC) else "ppo",
        "env_id": env_id,
        "obs_dim": agent.obs_dim,
        "action_dim": len(agent.low) if box else None,
        "actions": None if box else agent.outputs,  # a Discrete space's size
        "action_low": [float(x) for x in agent.low] if box else None,
        "action_high": [float(x) for x in agent.high] if box else None,
        "hidden_sizes": list(agent.config.hidden_sizes),
    }
    arrays = flatten_params(params)
    # Refuse, before anything is written, weights that `load_policy` could not rebuild from this description
    # (another agent's, or other layer sizes): an export must load.
    _, template = _agent_of(description)
    try:
        unflatten_params(arrays, template)
    except CheckpointError as error:
        raise PolicyError(f"these weights are not the networks of the agent given: {error}") from None
    os.makedirs(directory, exist_ok=True)
    atomic_write(os.path.join(directory, PARAMS_FILE), lambda f: np.savez(f, **arrays))
    atomic_write(os.path.join(directory, POLICY_FILE), lambda f: f.write(json.dumps(description, indent=2).encode()))
    return directory


def load_policy(path: str | os.PathLike) -> Policy:
    """The `Policy` saved in `path`: a directory `save_policy` wrote, or a run's --out holding one in policy/."""
    path = os.fspath(path)
    if os.path.basename(path) == POLICY_FILE and os.path.isfile(path):  # the description itself
        path = os.path.dirname(path) or "."
    if not os.path.isdir(path):
        raise PolicyError(f"{path}: no such directory (give a policy's directory, or the run's --out holding it)")
    if os.path.isdir(os.path.join(path, POLICY_DIR)) and not os.path.exists(os.path.join(path, POLICY_FILE)):
        path = os.path.join(path, POLICY_DIR)
    elif os.path.exists(os.path.join(path, "dream.json")) and not os.path.exists(os.path.join(path, POLICY_FILE)):
        raise PolicyError(
            f"{path}: a dream run with the linear controller exports no policy (its weights are dream.json's "
            "`controller`); `wm-jax dream --controller ppo` exports one"
        )
    description_path, params_path = os.path.join(path, POLICY_FILE), os.path.join(path, PARAMS_FILE)
    description = _read_description(description_path)
    try:
        agent, template = _agent_of(description)
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyError(f"{description_path}: not a policy description ({type(error).__name__}: {error})") from None
    arrays = _read_arrays(params_path)
    for name, array in arrays.items():
        if array.dtype.kind != "f":
            raise PolicyError(f"{params_path}: {name} holds {array.dtype} values; a policy's weights are floats")
        if not np.isfinite(array).all():
            raise PolicyError(f"{params_path}: {name} holds values that are not finite (NaN or infinite)")
    try:
        params = unflatten_params(arrays, template)
    except CheckpointError as error:
        raise PolicyError(f"{params_path} does not match {POLICY_FILE}: {error}") from None
    env_id = description.get("env_id")
    if env_id is not None and not isinstance(env_id, str):
        raise PolicyError(f"{description_path}: env_id must be an environment id or null, got {env_id!r}")
    return Policy(env_id, agent, params)


def _agent_of(description: dict) -> tuple[SAC | PPO, nnx.State]:
    """The agent policy.json describes and the abstract shapes of its networks' weights."""
    obs_dim, hidden = _count(description["obs_dim"], "obs_dim"), description["hidden_sizes"]
    if not isinstance(hidden, list) or not hidden:
        raise ValueError(f"hidden_sizes must be a list of widths, got {hidden!r}")
    hidden = tuple(_count(width, "hidden_sizes") for width in hidden)
    low, high = description["action_low"], description["action_high"]
    box = None if low is None else (tuple(float(x) for x in low), tuple(float(x) for x in high))
    if box is not None:
        if len(box[0]) != len(box[1]) or not box[0]:
            raise ValueError("action_low and action_high must be lists of one bound per action dimension")
        if not all(np.isfinite(a) and np.isfinite(b) and a < b for a, b in zip(*box)):
            raise ValueError("every action bound must be finite, and each low below its high")
    if description["kind"] == "sac":
        if box is None:
            raise ValueError("a SAC policy acts in a Box: action_low and action_high are missing")
        agent = SAC(obs_dim, *box, SACConfig(hidden_sizes=hidden))
        return agent, nnx.state(nnx.eval_shape(lambda: agent._modules(jax.random.key(0))[0]))
    outputs = _count(description["actions"], "actions") if box is None else len(box[0])
    agent = PPO(obs_dim, outputs, *(box or (None, None)), None, PPOConfig(hidden_sizes=hidden))
    return agent, nnx.state(nnx.eval_shape(lambda: agent._module(jax.random.key(0))), nnx.Param)


def _count(value, name: str) -> int:
    """A whole number >= 1 from policy.json (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _read_description(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            description = json.loads(f.read())
    except FileNotFoundError:
        raise PolicyError(
            f"{path}: no such file (is it the --out of a `wm-jax sac`, `wm-jax mbpo` or "
            "`wm-jax dream --controller ppo` run?)"
        ) from None
    except (OSError, ValueError) as error:
        raise PolicyError(f"{path}: unreadable ({error})") from None
    if not isinstance(description, dict):
        raise PolicyError(f"{path}: not a policy description")
    version = description.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION or description.get("kind") not in KINDS:
        raise PolicyError(
            f"{path}: a policy of format {version!r} and kind {description.get('kind')!r}; this wm-jax reads format "
            f"{FORMAT_VERSION}, kinds {', '.join(KINDS)}"
        )
    return description


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such file") from None
    except Exception as error:  # noqa: BLE001 - numpy and zipfile raise many types for a damaged archive
        raise PolicyError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
