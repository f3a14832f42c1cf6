"""Shapes the peers ship that the chapter's families cannot draw.

Three families and two combinators, each needed to reproduce a peer exactly
(see ``docs/conventions.md``) and each useful on its own:

* `InverseTime` -- Keras ``InverseTimeDecay``, with its staircase form;
* `CosineWave` -- a cosine that keeps going past its horizon (torch
  ``CosineAnnealingLR`` does not clamp at ``eta_min``);
* `PolyCycle` -- polynomial decay whose horizon stretches (Keras
  ``PolynomialDecay(cycle=True)``);
* `Skip` -- a schedule that starts part-way in (resume at step ``k``, or count
  updates from 1 as MXNet does);
* `Lifted` -- a schedule on a raised floor (Keras ``CosineDecayRestarts``
  shrinks the height above ``alpha``, not the peak).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrlab.schedules.base import FloatArray, Schedule, flag, number, register, schedule, setfield
from lrlab.schedules.decay import cosine_curve

__all__ = ["InverseTime", "CosineWave", "PolyCycle", "Skip", "Lifted"]


@register
@dataclass(frozen=True, slots=True, repr=False)
class InverseTime(Schedule):
    """Inverse-time decay: ``base_lr / (1 + rate * t / every)``; ``floor(t / every)`` when staircase.

    The rate has halved when ``rate * t / every == 1`` (Keras ``InverseTimeDecay``).

    >>> InverseTime(0.1, rate=0.5, every=5)(10)
    0.05
    >>> InverseTime(0.1, rate=0.5, every=5, staircase=True)(9)
    0.06666666666666667
    """

    base_lr: float
    rate: float
    every: float = 1
    staircase: bool = False
    name = "inverse_time"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "rate", number(where, "rate", self.rate, low=0))
        setfield(self, "every", number(where, "every", self.every, low=0, low_open=True))
        setfield(self, "staircase", flag(where, "staircase", self.staircase))

    def _rates(self, t: FloatArray) -> FloatArray:
        p = t / self.every
        if self.staircase:
            p = np.floor(p)
        result: FloatArray = self.base_lr / (1.0 + self.rate * p)
        return result


@register
@dataclass(frozen=True, slots=True, repr=False)
class CosineWave(Schedule):
    """A cosine that never stops: ``final_lr + (base_lr - final_lr) * (1 + cos(pi * t / steps)) / 2``.

    It reaches ``final_lr`` at ``steps``, is back at ``base_lr`` at ``2 * steps``,
    and so on (period ``2 * steps``). This is torch ``CosineAnnealingLR``, which
    does not hold ``eta_min`` after ``T_max``; `Cosine` is the held version.

    >>> s = CosineWave(0.1, steps=10)
    >>> s(0), s(10), round(s(15), 12), s(20)
    (0.1, 0.0, 0.05, 0.1)
    """

    base_lr: float
    steps: float
    final_lr: float = 0.0
    name = "cosine_wave"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return cosine_curve(self.base_lr, self.final_lr, t / self.steps)


@register
@dataclass(frozen=True, slots=True, repr=False)
class PolyCycle(Schedule):
    """Polynomial decay whose horizon stretches each time it is reached.

    ``final_lr + (base_lr - final_lr) * (1 - t / h) ** power`` with
    ``h = steps * max(1, ceil(t / steps))``: ``final_lr`` is reached at every
    multiple of ``steps``, and just after it the rate jumps up -- but not back
    to ``base_lr``, because the next horizon is longer. This is Keras
    ``PolynomialDecay(cycle=True)``; `Poly` is the held version.

    >>> s = PolyCycle(0.1, steps=20)
    >>> s(0), s(20), s(30)
    (0.1, 0.0, 0.025)
    """

    base_lr: float
    steps: float
    power: float = 1.0
    final_lr: float = 0.0
    name = "poly_cycle"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        setfield(self, "power", number(where, "power", self.power, low=0, low_open=True))
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        horizon = self.steps * np.maximum(1.0, np.ceil(t / self.steps))
        left = np.maximum(1.0 - t / horizon, 0.0)
        result: FloatArray = self.final_lr + (self.base_lr - self.final_lr) * np.power(left, float(self.power))
        return result


@register
@dataclass(frozen=True, slots=True, repr=False)
class Skip(Schedule):
    """``schedule(t + steps)``: the schedule with its first ``steps`` steps already done.

    Resume a run part-way, or match a library that counts updates from 1
    (MXNet asks its scheduler for update 1 first: ``skip(s, steps=1)``).

    >>> from lrlab.schedules.decay import Linear
    >>> Skip(Linear(0.0, 1.0, steps=4), steps=1)(0)
    0.25
    """

    schedule: Schedule
    steps: float
    name = "skip"

    def __post_init__(self) -> None:
        setfield(self, "schedule", schedule(self.name, "schedule", self.schedule))
        setfield(self, "steps", number(self.name, "steps", self.steps, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.schedule._rates(t + float(self.steps))


@register
@dataclass(frozen=True, slots=True, repr=False)
class Lifted(Schedule):
    """``schedule(t) + by``: the same shape standing on a floor ``by`` higher.

    >>> from lrlab.schedules.decay import Constant
    >>> Lifted(Constant(0.25), by=0.5)(3)
    0.75
    """

    schedule: Schedule
    by: float
    name = "lifted"

    def __post_init__(self) -> None:
        setfield(self, "schedule", schedule(self.name, "schedule", self.schedule))
        setfield(self, "by", number(self.name, "by", self.by, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.schedule._rates(t) + float(self.by)
