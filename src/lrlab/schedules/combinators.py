"""Schedules made of schedules: warmup, join, scaled and clipped.

Compose, don't flag: no family carries its own warmup option; any schedule
can be warmed up, joined after another, scaled or clamped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import LARGEST, FloatArray, Schedule, arg, family

__all__ = [
    "Warmup",
    "warmup",
    "Join",
    "join",
    "Scaled",
    "scaled",
    "Clipped",
    "clipped",
    "Product",
    "product",
    "Stretch",
    "stretch",
]


@family
class Warmup(Schedule):
    """Warm up for ``steps``, then run ``schedule`` on its own clock.

    For ``t < steps``: ``start_lr + (schedule(0) - start_lr) * t / steps``
    (``mode="constant"``: ``start_lr``); after: ``schedule(t - steps)``.
    The inner schedule's own ``steps`` do *not* include the warmup.

    ``shift=False`` keeps the inner schedule on the global clock instead: ``schedule(t)`` after
    the warmup, which so takes the place of the schedule's first ``steps`` (timm's
    ``warmup_prefix=False``; the rate jumps from ``schedule(0)`` to ``schedule(steps)``).

    >>> from lrlab.schedules.decay import Cosine
    >>> s = Warmup(Cosine(0.3, steps=15, final_lr=0.01), steps=5)
    >>> s(0), s(5), s(20)
    (0.0, 0.3, 0.01)
    >>> Warmup(Cosine(0.3, steps=10), steps=5, shift=False)(5)
    0.15
    """

    schedule: Schedule = arg(kind="schedule")
    steps: float = arg(low=0, time=True)
    start_lr: float = arg(default=0.0, low=0)
    mode: str = arg(default="linear", choices=("linear", "constant"))
    shift: bool = arg(default=True)
    name = "warmup"

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        if inner is None:
            return None
        end = float(self.steps) + inner if self.shift else max(float(self.steps), inner)
        return end if math.isfinite(end) else None  # settles past the largest float: never, for a float t

    def _rates(self, t: FloatArray) -> FloatArray:
        steps = float(self.steps)
        if self.shift:
            shifted = t - steps
            np.maximum(shifted, 0.0, out=shifted)
        else:
            shifted = t  # the inner schedule never writes into t and returns a new array
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


warmup = Warmup


@family
class Join(Schedule):
    """Run ``schedules[k]`` between ``boundaries[k-1]`` and ``boundaries[k]``.

    Each piece's clock starts at 0 where it takes over:
    ``schedules[k](t - boundaries[k-1])`` (as optax ``join_schedules``).

    >>> from lrlab.schedules.decay import Cosine, Linear
    >>> s = Join([Linear(0.0, 0.1, steps=10), Cosine(0.1, steps=20)], boundaries=[10])
    >>> s(5), s(10), s(30)
    (0.05, 0.1, 0.0)
    """

    schedules: tuple[Schedule, ...] = arg(kind="schedules")
    boundaries: tuple[float, ...] = arg(kind="numbers", order="increasing", time=True)
    name = "join"

    def __check_init__(self) -> None:
        bounds = list(self.boundaries)
        if len(bounds) != len(self.schedules) - 1:
            need = f"of length {len(self.schedules) - 1} (one fewer than schedules)"
            raise invalid("boundaries", bounds, need, where=self.name)
        if bounds and not bounds[0] > 0:
            raise invalid("boundaries", bounds, "> 0 (the first piece needs room)", where=self.name)

    def horizon(self) -> float | None:
        last = self.schedules[-1].horizon()
        start = float(self.boundaries[-1]) if self.boundaries else 0.0
        end = None if last is None else start + last
        return end if end is not None and math.isfinite(end) else None  # past the largest float: never

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


join = Join


@family
class Scaled(Schedule):
    """``by * schedule(t)``: the same shape at another height; past the largest float (about 1.8e308) held there.

    >>> from lrlab.schedules.decay import SquareRoot
    >>> Scaled(SquareRoot(0.1), by=0.5)(3)
    0.025
    """

    schedule: Schedule = arg(kind="schedule")
    by: float = arg(low=0)
    name = "scaled"

    def horizon(self) -> float | None:
        return 0.0 if self.by == 0 else self.schedule.horizon()

    def _rates(self, t: FloatArray) -> FloatArray:
        out = self.schedule._rates(t)
        out *= float(self.by)
        return np.minimum(out, LARGEST, out=out)


scaled = Scaled


@family
class Clipped(Schedule):
    """``min(max_lr, max(min_lr, schedule(t)))``; ``max_lr=None`` means no cap.

    >>> from lrlab.schedules.decay import SquareRoot
    >>> s = Clipped(SquareRoot(1.0), min_lr=0.2, max_lr=0.5)
    >>> s(0), s(3), s(99)
    (0.5, 0.5, 0.2)
    """

    schedule: Schedule = arg(kind="schedule")
    min_lr: float = arg(default=0.0, low=0)
    max_lr: float | None = arg(default=None)
    name = "clipped"

    def __check_init__(self) -> None:
        if self.max_lr is not None and not self.max_lr >= self.min_lr:
            raise invalid("max_lr", self.max_lr, f">= {self.min_lr:g}", where=self.name)

    def horizon(self) -> float | None:
        return self.schedule.horizon()

    def _rates(self, t: FloatArray) -> FloatArray:
        high: Any = math.inf if self.max_lr is None else float(self.max_lr)
        return np.clip(self.schedule._rates(t), float(self.min_lr), high)


clipped = Clipped


@family
class Product(Schedule):
    """``schedules[0](t) * schedules[1](t) * ...``: multipliers stacked on one clock.

    What torch ``ChainedScheduler`` and composer's stacked schedulers compute: each schedule
    scales the rate the others give. It settles when every factor has (the latest horizon).

    >>> from lrlab.schedules.decay import Constant, Linear
    >>> s = Product([Constant(0.5), Linear(0.0, 0.2, steps=10)])
    >>> s(5), s(20)
    (0.05, 0.1)
    """

    schedules: tuple[Schedule, ...] = arg(kind="schedules")
    name = "product"

    def horizon(self) -> float | None:
        ends = [s.horizon() for s in self.schedules]
        return None if any(end is None for end in ends) else max(float(end) for end in ends if end is not None)

    def _rates(self, t: FloatArray) -> FloatArray:
        out = self.schedules[0]._rates(t)
        with np.errstate(over="ignore", invalid="ignore"):
            for sched in self.schedules[1:]:
                out *= sched._rates(t)
        out[np.isnan(out)] = 0.0  # 0 * inf: a factor of 0 silences even one that overflowed
        return out


product = Product


@family
class Stretch(Schedule):
    """``schedule(t / ratio)``: the same schedule over ``ratio`` times as many steps.

    Every length inside -- horizons, milestones, periods -- is scaled by ``ratio`` (composer's
    ``scale_schedule_ratio``). With ``keep_warmup=True`` a `Warmup` on top keeps its own length
    and only the schedule after it is stretched: ``warmup(stretch(inner, ratio), steps)``.

    >>> from lrlab.schedules.decay import Linear
    >>> s = Stretch(Warmup(Linear(0.1, 0.0, steps=10), steps=4), ratio=2.0, keep_warmup=True)
    >>> s(2), s(14), Stretch(Linear(0.1, 0.0, steps=10), ratio=2.0)(10)
    (0.05, 0.05, 0.05)
    """

    schedule: Schedule = arg(kind="schedule")
    ratio: float = arg(low=0, low_open=True)
    keep_warmup: bool = arg(default=False)
    name = "stretch"

    def _kept(self) -> Warmup | None:
        """The warmup that keeps its length, around the stretched rest (None: all of it is stretched)."""
        top = self.schedule
        if not (self.keep_warmup and isinstance(top, Warmup)):
            return None
        inner = Stretch(top.schedule, ratio=self.ratio)
        return Warmup(inner, steps=top.steps, start_lr=top.start_lr, mode=top.mode, shift=top.shift)

    def horizon(self) -> float | None:
        kept = self._kept()
        if kept is not None:
            return kept.horizon()
        inner = self.schedule.horizon()
        if inner is None:
            return None
        end = float(self.ratio) * inner
        end += 4 * math.ulp(end)  # so that t / ratio is past the inner horizon despite rounding
        return end if math.isfinite(end) else None  # past the largest float: no t to hold from

    def _rates(self, t: FloatArray) -> FloatArray:
        kept = self._kept()
        if kept is not None:
            return kept._rates(t)
        # a tiny ratio can take t / ratio past the largest float: the inner schedules take finite t
        return self.schedule._rates(np.minimum(t / float(self.ratio), LARGEST))


stretch = Stretch
