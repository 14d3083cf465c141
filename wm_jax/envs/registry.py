"""What the project knows about each supported environment: id, spaces, state labels, action encodings.

Every other module asks here instead of keeping its own table. The spaces are written out (not
read from gymnasium at run time) so that loading a data file or a model needs no gymnasium
import; `tests/test_envs.py` checks the table against gymnasium's own spaces.

Action encodings (how a raw action becomes network input, a property of the model):
    index       a Discrete action's index as one float column (the tutorial's way; the default)
    onehot      a Discrete action as n float columns
    continuous  a Box action vector as is (also any float action matrix without an environment)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Union

import numpy as np

from ..errors import UserError

ActionEncoding = Literal["index", "onehot", "continuous"]
ACTION_ENCODINGS = ("index", "onehot", "continuous")
# The tutorial caps every episode at 200 steps, whatever the environment's own limit.
TUTORIAL_MAX_EPISODE_STEPS = 200


class EnvError(UserError):
    """An unknown environment or an action encoding it cannot use (printed as a one-line error)."""


@dataclasses.dataclass(frozen=True)
class Discrete:
    n: int

    def to_json(self) -> dict:
        return {"type": "Discrete", "n": self.n}


@dataclasses.dataclass(frozen=True)
class Box:
    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.low),)

    def to_json(self) -> dict:
        # JSON has no infinity; unbounded dimensions are written as the strings "inf" / "-inf".
        def bound(value: float):
            return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")

        return {"type": "Box", "shape": list(self.shape), "low": [bound(v) for v in self.low],
                "high": [bound(v) for v in self.high]}


Space = Union[Discrete, Box]


def space_from_json(payload: dict) -> Space:
    """Inverse of `Discrete.to_json` / `Box.to_json`; raises EnvError on anything else."""
    try:
        if payload["type"] == "Discrete":
            return Discrete(int(payload["n"]))
        if payload["type"] == "Box":
            return Box(tuple(float(v) for v in payload["low"]), tuple(float(v) for v in payload["high"]))
    except (KeyError, TypeError, ValueError) as error:
        raise EnvError(f"malformed space description {payload!r} ({error})") from None
    raise EnvError(f"unknown space type in {payload!r}")


@dataclasses.dataclass(frozen=True)
class EnvInfo:
    """One environment: spaces as gymnasium defines them, and names for the state dimensions."""

    env_id: str
    observation_space: Box
    action_space: Space
    state_labels: tuple[str, ...]

    @property
    def state_dim(self) -> int:
        return self.observation_space.shape[0]

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def default_action_encoding(self) -> ActionEncoding:
        return "index" if self.discrete else "continuous"

    def encoded_action_dim(self, encoding: ActionEncoding) -> int:
        """Width of the network's action input under `encoding`."""
        check_encoding(self, encoding)
        if encoding == "onehot":
            return self.action_space.n
        if encoding == "index":
            return 1
        return self.action_space.shape[0]


_INF = math.inf
_ENVS = (
    EnvInfo(
        "CartPole-v1",
        Box((-4.8, -_INF, -0.41887903, -_INF), (4.8, _INF, 0.41887903, _INF)),
        Discrete(2),
        ("cart position", "cart velocity", "pole angle", "pole angular velocity"),
    ),
    EnvInfo(
        "Acrobot-v1",
        Box((-1.0, -1.0, -1.0, -1.0, -12.566371, -28.274334), (1.0, 1.0, 1.0, 1.0, 12.566371, 28.274334)),
        Discrete(3),
        ("cos th1", "sin th1", "cos th2", "sin th2", "th1 dot", "th2 dot"),
    ),
    EnvInfo("MountainCar-v0", Box((-1.2, -0.07), (0.6, 0.07)), Discrete(3), ("position", "velocity")),
    EnvInfo(
        "MountainCarContinuous-v0", Box((-1.2, -0.07), (0.6, 0.07)), Box((-1.0,), (1.0,)), ("position", "velocity")
    ),
    EnvInfo("Pendulum-v1", Box((-1.0, -1.0, -8.0), (1.0, 1.0, 8.0)), Box((-2.0,), (2.0,)), ("cos th", "sin th", "th dot")),
)
ENVS = {info.env_id: info for info in _ENVS}
# Flat Box observations with Discrete or Box actions: what an MLP on raw states can learn.
SUPPORTED_ENVS = tuple(ENVS)


def env_info(env_id: str) -> EnvInfo:
    """The registry entry for `env_id`; an unknown id is an EnvError listing the supported ones."""
    if env_id not in ENVS:
        raise EnvError(f"unsupported environment {env_id!r}; supported: {', '.join(SUPPORTED_ENVS)}")
    return ENVS[env_id]


def check_env_id(env_id: str) -> None:
    env_info(env_id)


def state_labels(env_id: str | None, state_dim: int) -> tuple[str, ...]:
    """Names of the state dimensions, or s0, s1, ... for data of unknown origin."""
    labels = ENVS[env_id].state_labels if env_id in ENVS else ()
    return labels if len(labels) == state_dim else tuple(f"s{i}" for i in range(state_dim))


def check_encoding(info: EnvInfo, encoding: str) -> None:
    if encoding not in ACTION_ENCODINGS:
        raise EnvError(f"unknown action encoding {encoding!r}; use one of {', '.join(ACTION_ENCODINGS)}")
    if info.discrete and encoding == "continuous":
        raise EnvError(f"{info.env_id} has Discrete actions: use the index or onehot encoding")
    if not info.discrete and encoding != "continuous":
        raise EnvError(f"{info.env_id} has Box actions: only the continuous encoding applies")


def encode_actions(actions, encoding: ActionEncoding, width: int):
    """Raw actions -> float32 network input (N, width). Works on numpy and JAX arrays alike.

    index: (N,) integers -> (N, 1); onehot: (N,) integers -> (N, width); continuous: (N, width) as is.
    """
    if encoding == "index":
        return actions.astype(np.float32).reshape(-1, 1)
    if encoding == "onehot":
        return (actions.reshape(-1, 1) == np.arange(width)).astype(np.float32)
    return actions.astype(np.float32).reshape(-1, width)
