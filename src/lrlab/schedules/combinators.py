"""Schedules made of schedules: warmup, join, scaled and clipped.

Compose, don't flag: no family carries its own warmup option; any schedule
can be warmed up, joined after another, scaled or clamped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import (
    FloatArray,
    Schedule,
    choice,
    number,
    numbers_tuple,
    register,
    schedule,
    setfield,
)

__all__ = ["Warmup", "Join", "Scaled", "Clipped"]


@register
@dataclass(frozen=True, slots=True, repr=False)
class Warmup(Schedule):
    """Warm up for ``steps``, then run ``schedule`` on its own clock.

    For ``t < steps``: ``start_lr + (schedule(0) - start_lr) * t / steps``
    (``mode="constant"``: ``start_lr``); after: ``schedule(t - steps)``.
    The warmup's length is *not* part of the inner schedule's horizon.
    """

    schedule: Schedule
    steps: float
    start_lr: float = 0.0
    mode: str = "linear"
    name = "warmup"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "schedule", schedule(where, "schedule", self.schedule))
        setfield(self, "steps", number(where, "steps", self.steps, low=0))
        setfield(self, "start_lr", number(where, "start_lr", self.start_lr, low=0))
        setfield(self, "mode", choice(where, "mode", self.mode, ("linear", "constant")))

    def _rates(self, t: FloatArray) -> FloatArray:
        steps = float(self.steps)
        shifted = t - steps
        np.maximum(shifted, 0.0, out=shifted)
        after = self.schedule._rates(shifted)
        warming = t < steps
        if not warming.any():
            return after
        # the warmup's values only where they apply (often a small part of a long curve)
        if self.mode == "linear":
            target = float(self.schedule._rates(np.zeros(1))[0])
            during = self.start_lr + (target - self.start_lr) * (t[warming] / steps)
        else:
            during = np.full(int(warming.sum()), float(self.start_lr))
        after[warming] = during  # the inner schedule's new array is ours (Schedule._rates)
        return after


@register
@dataclass(frozen=True, slots=True, repr=False)
class Join(Schedule):
    """Run ``schedules[k]`` between ``boundaries[k-1]`` and ``boundaries[k]``.

    Each piece's clock starts at 0 where it takes over:
    ``schedules[k](t - boundaries[k-1])`` (as optax ``join_schedules``).
    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[float, ...]
    name = "join"

    def __post_init__(self) -> None:
        where = self.name
        items = self.schedules
        if isinstance(items, Schedule | str) or not isinstance(items, Sequence) or not items:
            raise invalid("schedules", items, "a non-empty list of schedules", where=where)
        pieces = tuple(schedule(where, f"schedules[{i}]", s) for i, s in enumerate(items))
        bounds = numbers_tuple(where, "boundaries", self.boundaries, order="increasing")
        if len(bounds) != len(pieces) - 1:
            need = f"of length {len(pieces) - 1} (one fewer than schedules)"
            raise invalid("boundaries", list(bounds), need, where=where)
        if bounds and not bounds[0] > 0:
            raise invalid("boundaries", list(bounds), "> 0 (the first piece needs room)", where=where)
        setfield(self, "schedules", pieces)
        setfield(self, "boundaries", bounds)

    def _rates(self, t: FloatArray) -> FloatArray:
        if not self.boundaries:
            return self.schedules[0]._rates(t)
        edges = np.asarray(self.boundaries, dtype=np.float64)
        piece = np.searchsorted(edges, t, side="right")
        out = np.empty_like(t)
        starts = (0.0, *map(float, self.boundaries))
        for k, sched in enumerate(self.schedules):
            mask = piece == k
            if mask.any():
                out[mask] = sched._rates(t[mask] - starts[k])
        return out


@register
@dataclass(frozen=True, slots=True, repr=False)
class Scaled(Schedule):
    """``by * schedule(t)``: the same shape at another height."""

    schedule: Schedule
    by: float
    name = "scaled"

    def __post_init__(self) -> None:
        setfield(self, "schedule", schedule(self.name, "schedule", self.schedule))
        setfield(self, "by", number(self.name, "by", self.by, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.by * self.schedule._rates(t)


@register
@dataclass(frozen=True, slots=True, repr=False)
class Clipped(Schedule):
    """``min(max_lr, max(min_lr, schedule(t)))``; ``max_lr=None`` means no cap."""

    schedule: Schedule
    min_lr: float = 0.0
    max_lr: float | None = None
    name = "clipped"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "schedule", schedule(where, "schedule", self.schedule))
        setfield(self, "min_lr", number(where, "min_lr", self.min_lr, low=0))
        if self.max_lr is not None:
            setfield(self, "max_lr", number(where, "max_lr", self.max_lr, low=self.min_lr))

    def _rates(self, t: FloatArray) -> FloatArray:
        high: Any = math.inf if self.max_lr is None else float(self.max_lr)
        return np.clip(self.schedule._rates(t), float(self.min_lr), high)
