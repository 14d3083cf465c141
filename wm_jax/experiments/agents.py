"""`wm-jax mbrl`, `wm-jax dream`, `wm-jax mbpo` and `wm-jax sac` as library functions: agents that act with
a learned model, and the model-free baseline they are compared with.

Both start from the environment's recommended settings (`envs.recommended_mbrl_config` for mbrl),
so `MbrlRun(env="Acrobot-v1")` and `wm-jax mbrl --env Acrobot-v1` give that environment's
documented result; any field given explicitly wins.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Annotated, Any, NamedTuple

from ..config import ConfigError, DreamConfig, MBPOConfig, MBRLConfig, OnlineConfig, PPOConfig, SACConfig, check_seed
from ..devices import DeviceOptions
from .common import (
    Flat,
    WandbFlag,
    open_checkpoints,
    progress_bar,
    resumed_run,
)

# A run from a data file starts from the file's rows, not from random ones.
_FROM_DATA = {"--initial-transitions": "sets the random start, which --data replaces with the file's rows"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class MbrlRun(DeviceOptions):
    """Model-based RL: random data, then train an ensemble, act with MPC in the real environment, add what it
    saw, retrain, until --max-transitions; then evaluate on fresh episodes. Writes DIR/mbrl.json and
    learning_curve.png."""

    env: str = "CartPole-v1"
    """the environment; its recommended settings are the defaults (see `wm-jax mbrl --env ID --help`)"""
    out: str = "mbrl_out"
    seed: int = 0
    data: str | None = None
    """start from the transitions in this data file (`wm-jax collect`, `wm-jax data import-minari`; this
    environment's) instead of --initial-transitions random ones; they count toward --max-transitions"""
    # None: the environment's recommended settings, resolved in __post_init__ (the CLI shows them as defaults).
    config: Annotated[MBRLConfig, Flat] = None  # type: ignore[assignment]
    log_dir: str | None = None
    """write TensorBoard event files here as the run goes (`tensorboard --logdir DIR`)"""
    wandb: WandbFlag = False
    render: bool = False
    """save a GIF of one evaluation episode (DIR/episode.gif)"""
    checkpoint_every: int = 0
    """save the buffer, the model and the key to DIR/checkpoints every K iterations (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest
    checkpoint"""

    def inapplicable(self) -> dict[str, str]:
        """Flags these settings make moot, each with why (refused when given: `common.refuse_inapplicable_flags`)."""
        rules = dict(_FROM_DATA) if self.data is not None else {}
        if not self.config.probabilistic:
            rules["--planner.sample"] = "samples the members' Gaussians: it needs --probabilistic"
        return rules

    def __post_init__(self):
        if self.config is None:  # the environment's recommendation, from Python as from the CLI
            from ..envs import recommended_mbrl_config

            object.__setattr__(self, "config", recommended_mbrl_config(self.env))


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
    return None


def env_from_argv(argv: list[str], default: str = "CartPole-v1") -> str:
    """The environment a command line names (the CLI builds the run's defaults from it before parsing): its
    --env, else the one its --data file records, else `default`."""
    env = _flag_value(argv, "--env")
    if env is not None:
        return env
    data = _flag_value(argv, "--data")
    if data is None:
        return default
    recorded = _recorded_env(data)
    if recorded == "":
        raise ConfigError(f"{data} records no environment: give --env ID, the environment its rows come from")
    return recorded or default


def _recorded_env(path: str) -> str | None:
    """The environment id a data file records ("" where it records none), or None where it cannot be read (the
    run's own load of it reports what is wrong, in one line). Reads the file's metadata, not its rows."""
    from ..data import DataError, recorded_env_id

    try:
        return recorded_env_id(path) or ""
    except DataError:  # only a guess at the defaults: the run's load of the file says what failed
        return None


def default_mbrl_run(argv: list[str]) -> MbrlRun:
    """The run `wm-jax mbrl ARGV` starts from: the recommended settings of the environment ARGV names."""
    from ..envs import EnvError

    env = env_from_argv(argv)
    try:
        return MbrlRun(env=env)
    except EnvError:  # an id no one can make: reported in one line once the flags are parsed
        return MbrlRun(env="CartPole-v1")


def _check_mbrl_run(run: MbrlRun) -> None:
    from ..atomic import check_output_path
    from ..envs import check_playable

    check_playable(run.env)
    check_seed(run.seed)
    check_output_path(run.out, directory=True)
    if run.render:
        check_render(run.env)


def _initial_data(run):
    """The transitions of `run.data` (an mbrl or dream run's) as data of `run.env`, checked against the run's
    budget; None without it."""
    if run.data is None:
        run.config.check_random_start()
        return None
    from ..data import declare_env, load_dataset
    from ..planning.mbrl import checked_initial_data

    dataset = declare_env(load_dataset(run.data), run.env, run.data)
    return checked_initial_data(dataset, run.env, run.config)


def check_render(env_id: str) -> None:
    """Fail before any work where `env_id` cannot draw frames (--render), in one line."""
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame probes for audio devices otherwise
    try:
        import pygame  # noqa: F401  (gymnasium draws the classic-control frames with it)
    except ImportError:
        raise ConfigError("--render needs pygame: pip install 'wm-jax[render]'") from None
    import gymnasium as gym

    try:
        env = gym.make(env_id, render_mode="rgb_array")
        env.reset(seed=0)
        frame = env.render()
        env.close()
    except Exception as error:  # MuJoCo without an OpenGL context, an environment that cannot draw, ...
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"--render: {env_id} cannot draw frames here ({message})") from None
    if frame is None:
        raise ConfigError(f"--render: {env_id} draws no rgb_array frames")


class MbrlOutcome(NamedTuple):
    """The run as it ran (a resumed run's own settings) and its `planning.mbrl.MBRLResult`."""

    run: MbrlRun
    result: Any


def model_based_rl(run: MbrlRun) -> MbrlOutcome:
    """The whole `wm-jax mbrl` (or its resume), writing DIR/mbrl.json, learning_curve.png and, with
    `render`, episode.gif."""
    from .. import report
    from ..planning.mbrl import run_mbrl
    from ..tracking import RunLog

    resuming = run.resume is not None
    if resuming:
        run = resumed_run(run, default_mbrl_run(["--env", run.env]))
    _check_mbrl_run(run)
    initial = None if resuming else _initial_data(run)  # a resumed run's buffer is in its checkpoint
    config = run.config
    bar = progress_bar(
        config.max_transitions,
        f"mbrl {run.env}",
        " transitions",
        config.initial_transitions if initial is None else initial.size,
        enabled=sys.stderr.isatty(),
    )

    log = RunLog.for_run(run, "mbrl")

    def on_progress(used, record):
        bar.update(used - bar.n)
        bar.set_postfix(episode_return=f"{record['train_return']:.1f}")
        log.scalars("mbrl", {"train_return": record["train_return"], "episode_steps": record["episode_steps"]}, used)

    frames = [] if run.render else None
    mesh = run.mesh(config.members)
    checkpoints = open_checkpoints(run, resuming, mesh, "iteration")
    try:
        result = run_mbrl(
            run.env, config, run.seed, on_progress, frames, mesh=mesh, checkpoints=checkpoints, initial_data=initial
        )
        log.scalar("eval/return_mean", result.eval_return_mean, result.real_transitions_used)
    finally:
        if checkpoints is not None:
            checkpoints.close()
        bar.close()
        log.close()
    os.makedirs(run.out, exist_ok=True)
    report.write_mbrl(run, result, frames)
    return MbrlOutcome(run, result)


def summarize_mbrl(run: MbrlRun, outcome: MbrlOutcome) -> str:
    import numpy as np

    run, result = outcome
    return (
        f"{run.env}: {result.real_transitions_used} real transitions, {len(result.iterations)} iterations; "
        f"evaluation over {len(result.eval_returns)} fresh episodes: {result.eval_return_mean:.1f} "
        f"± {np.std(result.eval_returns):.1f}; {result.seconds['total']:.0f} s; wrote {run.out}"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class DreamRun(DeviceOptions):
    """Train a controller entirely inside the learned model (a linear one with CMA-ES, or an MLP with PPO), grow
    the data with its real episodes, then evaluate it in the real environment. Writes DIR/dream.json and, for
    PPO, the final policy in DIR/policy (`wm_jax.load_policy`)."""

    env: str = "CartPole-v1"
    out: str = "dream_out"
    seed: int = 0
    data: str | None = None
    """start from the transitions in this data file (`wm-jax collect`, `wm-jax data import-minari`; this
    environment's) instead of --initial-transitions random ones; they count toward --max-transitions"""
    log_dir: str | None = None
    """write TensorBoard event files here as the run goes (`tensorboard --logdir DIR`)"""
    wandb: WandbFlag = False
    config: Annotated[DreamConfig, Flat] = DreamConfig()
    # None: the environment's recommended settings, resolved in __post_init__ (the CLI shows them as defaults).
    ppo: PPOConfig = None  # type: ignore[assignment]
    """PPO's settings (--controller ppo); `wm-jax dream --env ID --help` shows the environment's"""
    checkpoint_every: int = 0
    """save the data, the model, the controller and the records to DIR/checkpoints every K iterations (orbax;
    0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest
    checkpoint"""

    def inapplicable(self) -> dict[str, str]:
        """Flags the chosen controller ignores, each with why (refused when given)."""
        rules = dict(_FROM_DATA) if self.data is not None else {}
        if self.config.controller == "linear":
            return {**rules, "--ppo.": "sets PPO, which trains only with --controller ppo"}
        cma = "sets CMA-ES, which evolves only the linear controller (--controller linear)"
        return {**rules, "--generations": cma, "--population": cma}

    def __post_init__(self):
        if self.ppo is None:
            from ..policies.settings import recommended_ppo

            object.__setattr__(self, "ppo", recommended_ppo(self.env))


def default_dream_run(argv: list[str]) -> DreamRun:
    """The run `wm-jax dream ARGV` starts from: the recommended PPO settings of the environment ARGV names."""
    return DreamRun(env=env_from_argv(argv))


class DreamOutcome(NamedTuple):
    """The run and its `planning.dream.DreamResult`."""

    run: DreamRun
    result: Any


def dream(run: DreamRun) -> DreamOutcome:
    """The whole `wm-jax dream` (or its resume), writing DIR/dream.json (and PPO's final policy in DIR/policy)."""
    from .. import report
    from ..atomic import check_output_path
    from ..envs import check_playable
    from ..planning.dream import run_dream
    from ..tracking import RunLog

    resuming = run.resume is not None
    if resuming:
        run = resumed_run(run, default_dream_run(["--env", run.env]))
    check_playable(run.env)
    check_seed(run.seed)
    check_output_path(run.out, directory=True)
    initial = None if resuming else _initial_data(run)  # a resumed run's data is in its checkpoint
    mesh = run.mesh(run.config.members)
    checkpoints = open_checkpoints(run, resuming, mesh, "iteration")
    try:
        with RunLog.for_run(run, "dream") as log:

            def on_progress(used, iteration):
                # Each iteration at the real transitions its dreaming model was trained on: one step per iteration.
                counts = ("iteration", "real_transitions", "model_transitions")
                scalars = {k: v for k, v in iteration.items() if k not in counts}
                log.scalars("dream", scalars, iteration.get("model_transitions", used))

            result = run_dream(
                run.env, run.config, run.seed, run.ppo, on_progress, mesh, initial, checkpoints=checkpoints
            )
            on_progress(result.real_transitions_used, result.iterations[-1])  # the last one dreams only: unreported
            log.scalar("eval/return_mean", result.eval_return_mean, result.real_transitions_used)
    finally:
        if checkpoints is not None:
            checkpoints.close()
    os.makedirs(run.out, exist_ok=True)
    report.write_dream(run, result)
    if result.policy is not None:  # PPO's final policy, loadable without the run (`wm_jax.load_policy(DIR)`)
        from ..policies.export import POLICY_DIR, save_policy

        save_policy(*result.policy, os.path.join(run.out, POLICY_DIR), run.env)
    return DreamOutcome(run, result)


def summarize_dream(run: DreamRun, outcome: DreamOutcome) -> str:
    run, result = outcome
    config = run.config
    return (
        f"{run.env}: {config.controller} controller trained in the dream ({config.mode}, disagreement penalty "
        f"{config.disagreement_penalty:g}) on {result.real_transitions_used} real transitions; dream return "
        f"{result.dream_return_mean:.1f}, real {result.eval_return_mean:.1f} ± "
        f"{result.eval_return_std:.1f} over {len(result.eval_returns)} fresh episodes; "
        f"{result.seconds:.0f} s; wrote {run.out}"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnlineRunOptions:
    """How `wm-jax sac` and `wm-jax mbpo` report, draw and save themselves (a base of both runs)."""

    log_dir: str | None = None
    """write TensorBoard event files here as the run goes (`tensorboard --logdir DIR`)"""
    wandb: WandbFlag = False
    render: bool = False
    """save a GIF of the final greedy policy's first evaluation episode (DIR/episode.gif)"""
    progress: bool = False
    """show a progress bar over the real transitions (shown on a terminal without it)"""
    checkpoint_every: int = 0
    """save the agent, the buffers and the keys to DIR/checkpoints at the first episode end after every N real
    transitions (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest
    checkpoint"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class SacRun(OnlineRunOptions):
    """Soft actor-critic in the real environment, without a model: the baseline model-based agents are
    compared with. Writes DIR/sac.json (the learning curve and the final evaluation), learning_curve.png and the
    final policy in DIR/policy (`wm_jax.load_policy`)."""

    env: str = "Pendulum-v1"
    """an environment with a continuous (Box) action space"""
    out: str = "sac_out"
    seed: int = 0
    loop: Annotated[OnlineConfig, Flat] = OnlineConfig()
    config: Annotated[SACConfig, Flat] = SACConfig()


def _online_agent(name: str, run, default, learn, check=None):
    """What `wm-jax sac` and `wm-jax mbpo` share: resume (`default` is the run a bare --resume gives), refuse
    bad settings before any work (`check(run)` adds the command's own checks of the run as it will run), then
    `learn(run, on_progress, checkpoints)` under a progress bar over the real transitions (on a terminal, or
    with --progress); with `render`, the final policy's GIF. Returns (the run as it ran, learn's outcome)."""
    from ..atomic import check_output_path
    from ..devices import check_memory
    from ..envs import check_playable
    from ..policies.export import POLICY_DIR, save_policy
    from ..policies.sac import SAC, SACResult, box_bounds, buffer_bytes, render_greedy
    from ..tracking import RunLog

    resuming = run.resume is not None
    if resuming:
        run = resumed_run(run, default)
    check_playable(run.env)
    obs_dim, low, high = box_bounds(run.env)  # an unknown id or a Discrete action space fails before any work
    # The buffers are allocated whole when the run starts: the real one, and MBPO's model buffer.
    model_rows = run.config.model_buffer_rows() if name == "mbpo" else 0
    rows = f"{run.loop.total_transitions:,} real" + (f" and {model_rows:,} model" if model_rows else "")
    check_memory(
        buffer_bytes(obs_dim, len(low), run.loop.total_transitions + model_rows), f"a buffer of {rows} transitions"
    )
    check_seed(run.seed)
    check_output_path(run.out, directory=True)
    if run.render:
        check_render(run.env)
    if check is not None:
        check(run)
    checkpoints = open_checkpoints(run, resuming, None, "real transition")
    enabled = run.progress or sys.stderr.isatty()
    # A resumed run's bar starts where its checkpoint left off (its rate then counts this process's steps only).
    done = checkpoints.latest_epoch() if resuming and checkpoints is not None else 0
    bar = progress_bar(run.loop.total_transitions, f"{name} {run.env}", " transitions", done, enabled=enabled)
    log = RunLog.for_run(run, name)

    def on_progress(transitions, row):
        bar.update(transitions - bar.n)
        bar.set_postfix(eval_return=f"{row['eval_return_mean']:.1f}")
        log.scalars("eval", {k: v for k, v in row.items() if k != "real_transitions"}, transitions)

    try:
        outcome = learn(run, on_progress, checkpoints)
    finally:
        if checkpoints is not None:
            checkpoints.close()
        bar.close()
        log.close()
    os.makedirs(run.out, exist_ok=True)
    result = outcome if isinstance(outcome, SACResult) else outcome[0]  # mbpo's is (result, model record)
    sac = run.config if name == "sac" else run.sac
    # The final policy, loadable without the run (`wm_jax.load_policy(DIR)`), as `wm-jax train` exports its model.
    save_policy(SAC(obs_dim, low, high, sac), result.state.actor, os.path.join(run.out, POLICY_DIR), run.env)
    if run.render:
        from .. import report

        frames = render_greedy(run.env, run.loop, sac, result.state.actor)
        report.save_gif(frames, os.path.join(run.out, "episode.gif"))
    return run, outcome


class OnlineOutcome(NamedTuple):
    """The run as it ran (a resumed run's own settings), its `policies.sac.SACResult` and, for MBPO, the
    model's record."""

    run: Any
    result: Any
    model: dict | None = None


def soft_actor_critic(run: SacRun) -> OnlineOutcome:
    """The whole `wm-jax sac` (or its resume), writing DIR/sac.json and the plot."""
    from .. import report
    from ..policies.sac import run_sac

    def learn(run, on_progress, checkpoints):
        return run_sac(run.env, run.loop, run.config, run.seed, on_progress, checkpoints)

    run, result = _online_agent("sac", run, SacRun(env=run.env), learn)
    report.write_sac(run, result)
    return OnlineOutcome(run, result)


def summarize_sac(run: SacRun, outcome: OnlineOutcome) -> str:
    import numpy as np

    run, result, _ = outcome
    return (
        f"{run.env}: SAC on {run.loop.total_transitions} real transitions; evaluation over "
        f"{len(result.eval_returns)} fresh episodes: {np.mean(result.eval_returns):.1f} ± "
        f"{np.std(result.eval_returns):.1f}; {result.seconds['total']:.0f} s; wrote {run.out}"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class MbpoRun(OnlineRunOptions):
    """Model-based policy optimisation: SAC trained mostly on short rollouts of a probabilistic ensemble that
    retrains on the real data as it grows. Writes DIR/mbpo.json (the learning curve and the final evaluation),
    learning_curve.png and the final policy in DIR/policy (`wm_jax.load_policy`). The environment's recommended
    settings are the defaults (`wm-jax mbpo --env ID --help` shows them)."""

    env: str = "InvertedPendulum-v5"
    """an environment with a continuous (Box) action space"""
    out: str = "mbpo_out"
    seed: int = 0
    # None: the environment's recommended settings, resolved in __post_init__ (the CLI shows them as defaults).
    loop: Annotated[OnlineConfig, Flat] = None  # type: ignore[assignment]
    config: Annotated[MBPOConfig, Flat] = None  # type: ignore[assignment]
    baseline: str | None = None
    """a `wm-jax sac` run on the same environment (its sac.json, or the directory holding it): its learning
    curve is drawn beside MBPO's in learning_curve.png"""
    sac: SACConfig = None  # type: ignore[assignment]
    """the policy's learner (--sac.updates-per-step is MBPO's G)"""

    def __post_init__(self):
        from ..policies.settings import recommended_mbpo

        recommended = recommended_mbpo(self.env)
        for name, value in zip(("config", "sac", "loop"), recommended):
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)


def default_mbpo_run(argv: list[str]) -> MbpoRun:
    """The run `wm-jax mbpo ARGV` starts from: the recommended settings of the environment ARGV names."""
    return MbpoRun(env=env_from_argv(argv, "InvertedPendulum-v5"))


def model_based_policy_optimisation(run: MbpoRun) -> OnlineOutcome:
    """The whole `wm-jax mbpo` (or its resume), writing DIR/mbpo.json and the plot."""
    from .. import report
    from ..policies.mbpo import run_mbpo

    baseline = {}

    def check(run):  # the run as it will run: a resumed run's environment, its --baseline carried over
        if run.baseline is not None:
            baseline["sac"] = read_sac_baseline(run.baseline, run.env)

    def learn(run, on_progress, checkpoints):
        return run_mbpo(run.env, run.loop, run.config, run.sac, run.seed, on_progress, checkpoints)

    run, (result, model) = _online_agent("mbpo", run, default_mbpo_run(["--env", run.env]), learn, check)
    report.write_mbpo(run, result, model, baseline.get("sac"))
    return OnlineOutcome(run, result, model)


def read_sac_baseline(path: str, env_id: str) -> dict:
    """The sac.json at `path` (a file, or a directory holding sac.json) of a SAC run on `env_id`."""
    import json

    file = os.path.join(path, "sac.json") if os.path.isdir(path) else path
    try:
        with open(file) as handle:
            record = json.load(handle)
        curve, env, seed, mean = record["curve"], record["env_id"], record["seed"], record["eval_return_mean"]
        from ..report import evaluation_curve

        evaluation_curve("SAC", curve)  # every row has what the plot reads
    except OSError as error:
        raise ConfigError(f"--baseline {path}: cannot read it ({error.strerror or error})") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"--baseline {path}: not the sac.json of a `wm-jax sac` run") from None
    if env != env_id:
        raise ConfigError(f"--baseline {path} is a SAC run on {env}, not on {env_id}")
    return {"curve": curve, "seed": seed, "eval_return_mean": mean}


def summarize_mbpo(run: MbpoRun, outcome: OnlineOutcome) -> str:
    import numpy as np

    run, result, model = outcome
    return (
        f"{run.env}: MBPO on {run.loop.total_transitions} real transitions ({model['model_rounds']} model rounds, "
        f"{model['reward']} reward); evaluation over {len(result.eval_returns)} fresh episodes: "
        f"{np.mean(result.eval_returns):.1f} ± {np.std(result.eval_returns):.1f}; {result.seconds['total']:.0f} s; "
        f"wrote {run.out}"
    )
