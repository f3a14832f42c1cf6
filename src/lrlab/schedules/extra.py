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

import numpy as np

from lrlab.schedules.base import LARGEST, FloatArray, Schedule, arg, family
from lrlab.schedules.decay import Poly, cosine_curve

__all__ = [
    "InverseTime",
    "inverse_time",
    "CosineWave",
    "cosine_wave",
    "PolyCycle",
    "poly_cycle",
    "Skip",
    "skip",
    "Lifted",
    "lifted",
]


@family
class InverseTime(Schedule):
    """Inverse-time decay: ``base_lr / (1 + rate * t / every)``; ``floor(t / every)`` when staircase.

    The rate has halved when ``rate * t / every == 1`` (Keras ``InverseTimeDecay``).

    >>> InverseTime(0.1, rate=0.5, every=5)(10)
    0.05
    >>> InverseTime(0.1, rate=0.5, every=5, staircase=True)(9)
    0.06666666666666667
    """

    base_lr: float = arg(low=0)
    rate: float = arg(low=0)
    every: float = arg(default=1, low=0, low_open=True, time=True)
    staircase: bool = arg(default=False)
    name = "inverse_time"

    def horizon(self) -> float | None:
        return 0.0 if self.base_lr == 0 or self.rate == 0 else None

    def _rates(self, t: FloatArray) -> FloatArray:
        if self.rate == 0:  # not 0 * inf where t / every overflows
            return np.full_like(t, float(self.base_lr))
        p = t / self.every
        if self.staircase:
            p = np.floor(p)
        result: FloatArray = self.base_lr / (1.0 + self.rate * p)
        return result


inverse_time = InverseTime


@family
class CosineWave(Schedule):
    """A cosine that never stops: ``final_lr + (base_lr - final_lr) * (1 + cos(pi * t / steps)) / 2``.

    It reaches ``final_lr`` at ``steps``, is back at ``base_lr`` at ``2 * steps``,
    and so on (period ``2 * steps``). This is torch ``CosineAnnealingLR``, which
    does not hold ``eta_min`` after ``T_max``; `Cosine` is the held version.

    >>> s = CosineWave(0.1, steps=10)
    >>> s(0), s(10), round(s(15), 12), s(20)
    (0.1, 0.0, 0.05, 0.1)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    final_lr: float = arg(default=0.0, low=0)
    name = "cosine_wave"

    def horizon(self) -> float | None:
        return 0.0 if self.base_lr == self.final_lr else None

    def _rates(self, t: FloatArray) -> FloatArray:
        # t / steps taken modulo 2 (exact), so that a huge t still lands on the wave; past the
        # largest float it is held there (an even number: the wave's top)
        frac = np.minimum(t / self.steps, LARGEST)
        return cosine_curve(self.base_lr, self.final_lr, np.fmod(frac, 2.0, out=frac), overwrite=True)


cosine_wave = CosineWave


@family
class PolyCycle(Poly):
    """Polynomial decay whose horizon stretches each time it is reached.

    ``final_lr + (base_lr - final_lr) * (1 - (t / h) ** k_decay) ** power`` with ``h = steps * max(1, ceil(t / steps))``

    ``final_lr`` is reached at every multiple of ``steps``, and just after it
    the rate jumps up -- but not back to ``base_lr``, because the next horizon
    is longer. This is Keras ``PolynomialDecay(cycle=True)``; `Poly` is the
    held version, whose arguments (and their checks) it takes over.

    >>> s = PolyCycle(0.1, steps=20)
    >>> s(0), s(20), s(30)
    (0.1, 0.0, 0.025)
    """

    name = "poly_cycle"

    def horizon(self) -> float | None:
        return 0.0 if self.base_lr == self.final_lr else None

    def _rates(self, t: FloatArray) -> FloatArray:
        cycles = t / self.steps
        horizon = np.maximum(1.0, np.ceil(cycles))
        horizon *= self.steps
        done = t / horizon
        far = ~np.isfinite(horizon)
        if far.any():  # h past the largest float: the same fraction as cycles / ceil(cycles), 1 once both are
            q = cycles[far]
            done[far] = np.divide(q, np.maximum(1.0, np.ceil(q)), out=np.ones_like(q), where=np.isfinite(q))
        if self.k_decay != 1:
            np.power(done, float(self.k_decay), out=done)
        left = np.maximum(1.0 - done, 0.0)
        result: FloatArray = self.final_lr + (self.base_lr - self.final_lr) * np.power(left, float(self.power))
        return result


poly_cycle = PolyCycle


@family
class Skip(Schedule):
    """``schedule(t + steps)``: the schedule with its first ``steps`` steps already done.

    A ``t + steps`` past the largest float (about 1.8e308) is held there.

    Resume a run part-way, or match a library that counts updates from 1
    (MXNet asks its scheduler for update 1 first: ``skip(s, steps=1)``).

    >>> from lrlab.schedules.decay import Linear
    >>> Skip(Linear(0.0, 1.0, steps=4), steps=1)(0)
    0.25
    """

    schedule: Schedule = arg(kind="schedule")
    steps: float = arg(low=0, time=True)
    name = "skip"

    def horizon(self) -> float | None:
        inner = self.schedule.horizon()
        return None if inner is None else max(0.0, inner - float(self.steps))

    def _rates(self, t: FloatArray) -> FloatArray:
        shifted = t + float(self.steps)
        return self.schedule._rates(np.minimum(shifted, LARGEST, out=shifted))


skip = Skip


@family
class Lifted(Schedule):
    """``schedule(t) + by``: the same shape standing on a floor ``by`` higher.

    A sum past the largest float (about 1.8e308) is held there.

    >>> from lrlab.schedules.decay import Linear
    >>> s = Lifted(Linear(0.0, 0.1, steps=10), by=0.01)
    >>> s(0), s(10)
    (0.01, 0.11)
    """

    schedule: Schedule = arg(kind="schedule")
    by: float = arg(low=0)
    name = "lifted"

    def horizon(self) -> float | None:
        return self.schedule.horizon()

    def _rates(self, t: FloatArray) -> FloatArray:
        out = self.schedule._rates(t)
        out += float(self.by)
        return np.minimum(out, LARGEST, out=out)


lifted = Lifted
