"""A trained policy as files it can be loaded from and act with: DIR/policy.json + DIR/actor.npz.

`wm-jax sac` and `wm-jax mbpo` write their final policy to OUT/policy/ (`save_policy`); `load_policy(path)`
reads it back as a `Policy`, whose `act(observations)` gives the greedy actions (the squashed mean, as the
runs' evaluations play), numpy in and out. Only the actor is kept: not the critics, buffers or checkpoints.
The actor's structure is rebuilt from policy.json, which must agree with the arrays in actor.npz.
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
from ..config import SACConfig
from ..errors import UserError
from .sac import SAC, greedy_program

POLICY_DIR = "policy"
POLICY_FILE = "policy.json"
ACTOR_FILE = "actor.npz"
FORMAT_VERSION = 1


class PolicyError(UserError):
    """A missing, damaged or unknown policy export (the CLI prints it as a one-line error)."""


@dataclasses.dataclass(frozen=True)
class Policy:
    """A loaded SAC actor (from `wm-jax sac` or `wm-jax mbpo`) for `env_id`: `act(observations)` gives the greedy
    action of one observation (obs_dim,) or of a batch (N, obs_dim), inside the environment's Box bounds."""

    env_id: str | None
    agent: SAC
    actor: nnx.State

    @property
    def obs_dim(self) -> int:
        return self.agent.obs_dim

    @property
    def action_dim(self) -> int:
        return self.agent.action_dim

    def act(self, observations) -> np.ndarray:
        obs = np.asarray(observations, np.float32)
        if obs.ndim not in (1, 2) or obs.shape[-1] != self.obs_dim:
            raise PolicyError(
                f"the policy acts on observations of {self.obs_dim} values, (obs_dim,) or (N, obs_dim); "
                f"got shape {obs.shape}"
            )
        actions = greedy_program(self.agent)(self.actor, obs.reshape(-1, self.obs_dim))
        return np.asarray(actions).reshape(obs.shape[:-1] + (self.action_dim,))


def save_policy(agent: SAC, actor: nnx.State, directory: str | os.PathLike, env_id: str | None = None) -> str:
    """Write `agent`'s actor `actor` into `directory` (created if needed) as policy.json + actor.npz; returns
    the directory."""
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    description = {
        "format_version": FORMAT_VERSION,
        "kind": "sac",
        "env_id": env_id,
        "obs_dim": agent.obs_dim,
        "action_low": [float(x) for x in agent.low],
        "action_high": [float(x) for x in agent.high],
        "hidden_sizes": list(agent.config.hidden_sizes),
    }
    arrays = flatten_params(actor)
    atomic_write(os.path.join(directory, ACTOR_FILE), lambda f: np.savez(f, **arrays))
    atomic_write(os.path.join(directory, POLICY_FILE), lambda f: f.write(json.dumps(description, indent=2).encode()))
    return directory


def load_policy(path: str | os.PathLike) -> Policy:
    """The `Policy` saved in `path`: a directory `save_policy` wrote, or a run's --out holding one in policy/."""
    path = os.fspath(path)
    if os.path.isdir(os.path.join(path, POLICY_DIR)) and not os.path.exists(os.path.join(path, POLICY_FILE)):
        path = os.path.join(path, POLICY_DIR)
    description = _read_description(os.path.join(path, POLICY_FILE))
    try:
        agent = SAC(
            int(description["obs_dim"]),
            tuple(float(x) for x in description["action_low"]),
            tuple(float(x) for x in description["action_high"]),
            SACConfig(hidden_sizes=tuple(int(x) for x in description["hidden_sizes"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyError(f"{os.path.join(path, POLICY_FILE)}: not a policy description ({error})") from None
    if len(agent.low) != len(agent.high):
        raise PolicyError(f"{os.path.join(path, POLICY_FILE)}: action_low and action_high differ in length")
    arrays = _read_arrays(os.path.join(path, ACTOR_FILE))
    template = nnx.state(nnx.eval_shape(lambda: agent._modules(jax.random.key(0))[0]))
    try:
        actor = unflatten_params(arrays, template)
    except CheckpointError as error:
        raise PolicyError(f"{os.path.join(path, ACTOR_FILE)} does not match {POLICY_FILE}: {error}") from None
    return Policy(description.get("env_id"), agent, actor)


def _read_description(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            description = json.loads(f.read())
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such file (is it a `wm-jax sac` or `wm-jax mbpo` run's --out?)") from None
    except (OSError, ValueError) as error:
        raise PolicyError(f"{path}: unreadable ({error})") from None
    if not isinstance(description, dict):
        raise PolicyError(f"{path}: not a policy description")
    version = description.get("format_version")
    if version != FORMAT_VERSION or description.get("kind") != "sac":
        raise PolicyError(
            f"{path}: a policy of format {version!r} and kind {description.get('kind')!r}; this wm-jax reads format "
            f"{FORMAT_VERSION}, kind 'sac'"
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
