"""Observation and action spaces as plain data, and how a raw action becomes network input.

The spaces mirror gymnasium's `Box` (flat) and `Discrete` without importing gymnasium, so loading
a data file or a model needs no gymnasium. Action encodings (a property of the model):
    index       a Discrete action's index as one float column (the tutorial's way; the default)
    onehot      a Discrete action as n float columns
    continuous  a Box action vector as is (also any float action matrix without an environment)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from ..errors import UserError

ActionEncoding = Literal["index", "onehot", "continuous"]
ACTION_ENCODINGS = ("index", "onehot", "continuous")


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

        return {
            "type": "Box",
            "shape": list(self.shape),
            "low": [bound(v) for v in self.low],
            "high": [bound(v) for v in self.high],
        }


Space = Discrete | Box


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


def check_encoding(spec, encoding: str) -> None:
    """EnvError unless `encoding` applies to `spec`'s action space (`spec`: an `EnvSpec`)."""
    if encoding not in ACTION_ENCODINGS:
        raise EnvError(f"unknown action encoding {encoding!r}; use one of {', '.join(ACTION_ENCODINGS)}")
    if spec.discrete and encoding == "continuous":
        raise EnvError(f"{spec.env_id} has Discrete actions: use the index or onehot encoding")
    if not spec.discrete and encoding != "continuous":
        raise EnvError(f"{spec.env_id} has Box actions: only the continuous encoding applies")


def encode_actions(actions, encoding: ActionEncoding, width: int):
    """Raw actions -> float32 network input (N, width). Works on numpy and JAX arrays alike.

    index: (N,) integers -> (N, 1); onehot: (N,) integers -> (N, width); continuous: (N, width) as is.
    """
    if encoding == "index":
        return actions.astype(np.float32).reshape(-1, 1)
    if encoding == "onehot":
        return (actions.reshape(-1, 1) == np.arange(width)).astype(np.float32)
    return actions.astype(np.float32).reshape(-1, width)
