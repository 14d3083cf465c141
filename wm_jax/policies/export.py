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
        obs = np.asarray(observations, np.float32)
        if obs.ndim not in (1, 2) or obs.shape[-1] != self.obs_dim:
            raise PolicyError(
                f"the policy acts on observations of {self.obs_dim} values, (obs_dim,) or (N, obs_dim); "
                f"got shape {obs.shape}"
            )
        greedy = sac_greedy_program(self.agent) if self.kind == "sac" else ppo_greedy_program(self.agent)
        actions = np.asarray(greedy(self.params, obs.reshape(-1, self.obs_dim)))
        return actions[0] if obs.ndim == 1 else actions


def save_policy(agent: SAC | PPO, params: nnx.State, directory: str | os.PathLike, env_id: str | None = None) -> str:
    """Write `agent`'s networks `params` (a SAC actor's, or PPO's actor-critic) into `directory` (created if
    needed) as policy.json + params.npz; returns the directory."""
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
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
    atomic_write(os.path.join(directory, PARAMS_FILE), lambda f: np.savez(f, **arrays))
    atomic_write(os.path.join(directory, POLICY_FILE), lambda f: f.write(json.dumps(description, indent=2).encode()))
    return directory


def load_policy(path: str | os.PathLike) -> Policy:
    """The `Policy` saved in `path`: a directory `save_policy` wrote, or a run's --out holding one in policy/."""
    path = os.fspath(path)
    if os.path.isdir(os.path.join(path, POLICY_DIR)) and not os.path.exists(os.path.join(path, POLICY_FILE)):
        path = os.path.join(path, POLICY_DIR)
    description_path, params_path = os.path.join(path, POLICY_FILE), os.path.join(path, PARAMS_FILE)
    description = _read_description(description_path)
    try:
        agent, template = _agent_of(description)
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyError(f"{description_path}: not a policy description ({type(error).__name__}: {error})") from None
    try:
        params = unflatten_params(_read_arrays(params_path), template)
    except CheckpointError as error:
        raise PolicyError(f"{params_path} does not match {POLICY_FILE}: {error}") from None
    return Policy(description.get("env_id"), agent, params)


def _agent_of(description: dict) -> tuple[SAC | PPO, nnx.State]:
    """The agent policy.json describes and the abstract shapes of its networks' weights."""
    obs_dim, hidden = int(description["obs_dim"]), tuple(int(x) for x in description["hidden_sizes"])
    low, high = description["action_low"], description["action_high"]
    box = None if low is None else (tuple(float(x) for x in low), tuple(float(x) for x in high))
    if box is not None and len(box[0]) != len(box[1]):
        raise ValueError("action_low and action_high differ in length")
    if description["kind"] == "sac":
        if box is None:
            raise ValueError("a SAC policy acts in a Box: action_low and action_high are missing")
        agent = SAC(obs_dim, *box, SACConfig(hidden_sizes=hidden))
        return agent, nnx.state(nnx.eval_shape(lambda: agent._modules(jax.random.key(0))[0]))
    outputs = int(description["actions"]) if box is None else len(box[0])
    agent = PPO(obs_dim, outputs, *(box or (None, None)), None, PPOConfig(hidden_sizes=hidden))
    return agent, nnx.state(nnx.eval_shape(lambda: agent._module(jax.random.key(0))), nnx.Param)


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
    if version != FORMAT_VERSION or description.get("kind") not in KINDS:
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
