"""Families that go up as well as down: restarts, cycles, one-cycle and WSD.

These are the shapes that the best libraries add on top of the chapter:
SGDR's warm restarts, Smith's cyclical rates, the one-cycle policy and the
warmup-stable-decay schedule used for large language models.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import _REQUIREMENT, LARGEST, FloatArray, Requirement, Schedule, arg, family
from lrlab.schedules.decay import cosine_curve, scaled_power

__all__ = ["CosineRestarts", "cosine_restarts", "Cyclic", "cyclic", "OneCycle", "one_cycle", "WSD", "wsd"]


@family
class CosineRestarts(Schedule):
    """SGDR (Loshchilov & Hutter 2017): cosine cycles that restart at the peak.

    ``final_lr + (base_lr * decay ** i - final_lr) * (1 + cos(pi * c / T_i)) / 2`` at position ``c``
    of cycle ``i``, which lasts ``T_i = period * period_mult ** i`` steps.

    >>> s = CosineRestarts(0.1, period=10, period_mult=2.0)
    >>> s(0), s(5), s(10), s(20), s(30)
    (0.1, 0.05, 0.1, 0.05, 0.1)
    """

    base_lr: float = arg(low=0)
    period: float = arg(low=0, low_open=True, time=True)
    period_mult: float = arg(default=1.0, low=1)
    final_lr: float = arg(default=0.0, low=0)
    decay: float = arg(default=1.0, low=0, low_open=True, high=1)
    name = "cosine_restarts"

    def horizon(self) -> float | None:
        return 0.0 if self.base_lr == self.final_lr and self.decay == 1 else None

    def cycles(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """For each ``t``: the cycle index, the cycle's start and its length."""
        period, mult = float(self.period), float(self.period_mult)
        if mult == 1.0:
            index = np.floor(t / period)
            begin = index * period
            if not np.isfinite(begin).all():  # t / period past the largest float: start from the exact remainder
                begin = np.where(np.isfinite(begin), begin, t - np.fmod(t, period))
            return index, begin, np.full_like(t, period)

        # Cycle starts as running sums of the cycle lengths, so a restart lands
        # exactly where the lengths add up (the closed form p*(m**i-1)/(m-1) can
        # miss it by an ulp and put t = period at the end of cycle 0).
        # At most _MAX_CYCLES of them (period_mult just above 1 and a huge t): the cycles after those
        # are found by their closed form.
        t_max = float(t.max()) if t.size else 0.0
        count = min(self._cycle_count(t_max) + 2, _MAX_CYCLES)
        lengths = scaled_power(period, mult, np.arange(count, dtype=np.float64))
        lengths[lengths == LARGEST] = np.inf  # a cycle longer than the largest float (see _rates)
        starts = np.concatenate(([0.0], np.cumsum(lengths)))
        found = np.searchsorted(starts, t, side="right") - 1
        past = found == count
        index = np.minimum(found, count - 1)
        cycle, begin, length = index.astype(np.float64), starts[index], lengths[index]
        if past.any():
            cycle[past], begin[past], length[past] = self._closed_form_cycles(t[past])
        return cycle, begin, length

    def _cycle_count(self, t: float) -> int:
        """The cycles begun by ``t``, less one: ``log(1 + t / period * (mult - 1)) / log(mult)``, in log space."""
        if t <= 0:
            return 0
        mult = float(self.period_mult)
        reach = np.logaddexp(0.0, math.log(t) - math.log(float(self.period)) + math.log(mult - 1.0))
        return min(math.floor(float(reach) / math.log(mult)), _MAX_CYCLES)

    def _closed_form_cycles(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """`cycles` past the first `_MAX_CYCLES` (``period_mult`` just above 1 and a huge ``t``).

        Cycle ``i`` starts at ``period * (mult**i - 1) / (mult - 1)`` and lasts ``period * mult**i``,
        both taken in log space (a start may be off by an ulp, this far out).
        """
        log_p, log_m = math.log(float(self.period)), math.log(float(self.period_mult))
        log_gap = math.log(float(self.period_mult) - 1.0)
        with np.errstate(divide="ignore", over="ignore"):
            reach = np.logaddexp(0.0, np.log(t) - log_p + log_gap)
            index = np.floor(reach / log_m)
            grown = index * log_m
            begin = np.exp(log_p - log_gap + grown + np.log1p(-np.exp(-grown)))  # 0 for the first cycle
            length = np.exp(log_p + grown)
        return index, np.minimum(begin, t), length

    def _rates(self, t: FloatArray) -> FloatArray:
        index, begin, length = self.cycles(t)
        peak = scaled_power(self.base_lr, float(self.decay), index)
        frac = (t - begin) / length
        endless = np.isinf(length)
        if endless.any():  # a cycle longer than the largest float: its fraction done, in log space
            grown = np.log(float(self.period)) + index[endless] * np.log(float(self.period_mult))
            frac[endless] = np.exp(np.log(t[endless] - begin[endless]) - grown)
        return cosine_curve(peak, self.final_lr, frac)


cosine_restarts = CosineRestarts

#: beyond this many cycles up to the largest ``t``, `CosineRestarts` finds cycles by their closed form
_MAX_CYCLES = 2**16


@family
class Cyclic(Schedule):
    """Smith's cyclical learning rate (2017), as torch ``CyclicLR`` computes it.

    ``base_lr + (max_lr - base_lr) * triangle(t) * scale(t)``: a triangle that
    rises from 0 to 1 over ``step_size`` steps and falls back over
    ``step_size_down`` (default: the same), its height scaled by 1
    (``"triangular"``), halved every cycle (``"triangular2"``) or by
    ``gamma ** t`` (``"exp_range"``). With ``inverse`` the cycle hangs from
    ``max_lr`` instead: ``max_lr - (max_lr - base_lr) * triangle(t) * scale(t)``,
    how torch cycles the momentum against the rate.

    >>> s = Cyclic(0.1, max_lr=0.5, step_size=4)
    >>> s(0), s(4), s(8)
    (0.1, 0.5, 0.1)
    >>> m = Cyclic(0.8, max_lr=0.9, step_size=4, inverse=True)
    >>> m(0), m(4), m(8)
    (0.9, 0.8, 0.9)
    """

    base_lr: float = arg(low=0)
    max_lr: float = arg(low=0)
    step_size: float = arg(low=0, low_open=True, time=True)
    mode: str = arg(default="triangular", choices=("triangular", "triangular2", "exp_range"))
    gamma: float = arg(default=1.0, low=0, low_open=True, high=1)
    step_size_down: float | None = arg(default=None, low=0, low_open=True, time=True)
    inverse: bool = arg(default=False)
    name = "cyclic"

    def __check_init__(self) -> None:
        if self.max_lr < self.base_lr:
            raise invalid("max_lr", self.max_lr, f">= base_lr ({self.base_lr})", where=self.name)

    def horizon(self) -> float | None:
        return 0.0 if self.max_lr == self.base_lr else None

    def _rates(self, t: FloatArray) -> FloatArray:
        up = float(self.step_size)
        down = up if self.step_size_down is None else float(self.step_size_down)
        total = up + down
        if math.isinf(total):  # both near the largest float: the same fractions at half the scale
            up, down, t = up / 2, down / 2, t / 2
            total = up + down
        # past 2**53 cycles the position in a cycle (1 + q - cycle) is 0 anyway: hold q there, not at inf
        q = np.minimum(t / total, 2.0**53)
        cycle = np.floor(1.0 + q)
        x = 1.0 + q - cycle
        ratio = up / total
        # a ratio of 0 (or 1) leaves only x = 0 on the way up (nothing on the way down)
        rising = x / ratio if ratio > 0 else np.zeros_like(x)
        falling = (x - 1.0) / (ratio - 1.0) if ratio < 1 else np.zeros_like(x)
        scale = np.where(x <= ratio, rising, falling)
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular2":
            with np.errstate(over="ignore"):
                height = height / np.power(2.0, cycle - 1.0)
        elif self.mode == "exp_range":
            height = height * np.power(float(self.gamma), t)
        if self.inverse:
            return self.max_lr - height
        return self.base_lr + height


cyclic = Cyclic


@family
class OneCycle(Schedule):
    """Smith's one-cycle policy (2018): up to ``max_lr``, then far below the start.

    ``anneal(initial_lr -> max_lr)`` until ``pct_start * steps``, then ``anneal(max_lr -> min_lr)`` until ``steps``
    with ``initial_lr = max_lr / div_factor`` and ``min_lr = initial_lr / final_div_factor``,
    held after; ``anneal`` is half a cosine (``"cos"``) or a straight line (``"linear"``).

    >>> s = OneCycle(1.0, steps=10, pct_start=0.5, div_factor=10, final_div_factor=100, anneal="linear")
    >>> s(0), s(5), round(s(10), 12)
    (0.1, 1.0, 0.001)
    """

    max_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    pct_start: float = arg(default=0.3, low=0, low_open=True, high=1, high_open=True)
    div_factor: float = arg(default=25.0, low=0, low_open=True)
    final_div_factor: float = arg(default=1e4, low=0, low_open=True)
    anneal: str = arg(default="cos", choices=("cos", "linear"))
    name = "one_cycle"

    def horizon(self) -> float | None:
        return float(self.steps)

    @property
    def initial_lr(self) -> float:
        """``max_lr / div_factor``, held at the largest float (about 1.8e308) if it would pass it."""
        return min(float(self.max_lr / self.div_factor), LARGEST)

    @property
    def min_lr(self) -> float:
        """``initial_lr / final_div_factor``, held at the largest float (about 1.8e308) if it would pass it."""
        return min(float(self.initial_lr / self.final_div_factor), LARGEST)

    def _rates(self, t: FloatArray) -> FloatArray:
        peak_at = float(self.pct_start * self.steps)
        rest = float(self.steps) - peak_at
        # a phase too short for a float (pct_start * steps underflows, or rounds to steps) is already over
        rising = np.minimum(t, peak_at) / peak_at if peak_at > 0 else np.ones_like(t)
        falling = np.clip(t - peak_at, 0.0, rest) / rest if rest > 0 else np.ones_like(t)
        up = self._anneal(self.initial_lr, self.max_lr, rising)
        down = self._anneal(self.max_lr, self.min_lr, falling)
        return np.where(t <= peak_at, up, down)

    def _anneal(self, start: float, end: float, frac: FloatArray) -> FloatArray:
        if self.anneal == "cos":
            return cosine_curve(start, end, frac)
        return start + (end - start) * frac


one_cycle = OneCycle


@dataclasses.dataclass(frozen=True)
class _ShapeOrSchedule(Requirement):
    """WSD's ``decay``: a named shape (``"1-sqrt"`` is stored as ``"sqrt"``) or any schedule."""

    def check(self, where: str, name: str, value: Any) -> Any:
        if isinstance(value, Schedule):
            return value
        if value == "1-sqrt":
            return "sqrt"
        if not isinstance(value, str) or value not in self.choices:
            listed = ", ".join(repr(o) for o in (*self.choices, "1-sqrt"))
            raise invalid(name, value, f"one of {listed} or a schedule", where=where)
        return super().check(where, name, value)


def _shape_or_schedule(default: str, choices: tuple[str, ...]) -> Any:
    """A field that takes one of `choices` or a schedule (declared like `arg`, checked by `_ShapeOrSchedule`)."""
    need = _ShapeOrSchedule(kind="choice", choices=choices)
    return dataclasses.field(default=default, metadata={_REQUIREMENT: need})


@family
class WSD(Schedule):
    """Warmup-stable-decay (Hu et al. 2024, "MiniCPM").

    ``base_lr * t / warmup_steps`` while warming up, ``base_lr`` while stable, then over the last
    ``decay_steps`` of ``steps``: ``final_lr + (base_lr - final_lr) * shape(frac)``, held after;
    ``shape`` is ``1 - frac`` (``"linear"``), ``(1 + cos(pi * frac)) / 2`` (``"cosine"``) or
    ``1 - sqrt(frac)`` (``"sqrt"``, also called ``"1-sqrt"`` as in HF and timm).

    ``decay`` may instead be any schedule, run on its own clock over the last ``decay_steps``:
    ``decay(min(t - (steps - decay_steps), decay_steps))``. It must settle within ``decay_steps``
    (a finite horizon, at most ``decay_steps``), and sets its own end (``final_lr`` stays 0).

    >>> s = WSD(0.1, steps=100, warmup_steps=10, decay_steps=20)
    >>> s(5), s(50), s(90), s(100)
    (0.05, 0.1, 0.05, 0.0)
    >>> from lrlab.schedules.decay import Cosine
    >>> s = WSD(0.1, steps=100, warmup_steps=10, decay_steps=20, decay=Cosine(0.1, steps=20, final_lr=0.01))
    >>> s(50), round(s(90), 12), s(100)
    (0.1, 0.055, 0.01)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    warmup_steps: float = arg(low=0, time=True)
    decay_steps: float = arg(low=0, time=True)
    final_lr: float = arg(default=0.0, low=0)
    decay: str | Schedule = _shape_or_schedule("linear", ("linear", "cosine", "sqrt"))
    name = "wsd"

    def __check_init__(self) -> None:
        if self.warmup_steps + self.decay_steps > self.steps:
            need = f"<= steps - warmup_steps ({self.steps - self.warmup_steps:g})"
            raise invalid("decay_steps", self.decay_steps, need, where=self.name)
        if isinstance(self.decay, Schedule):
            end = self.decay.horizon()
            if end is None or end > self.decay_steps:
                need = f"a schedule that settles within decay_steps={self.decay_steps:g} (its horizon is {end})"
                raise invalid("decay", str(self.decay), need, where=self.name)
            if self.final_lr != 0:
                need = "0 when decay is a schedule (the schedule sets its own end)"
                raise invalid("final_lr", self.final_lr, need, where=self.name)

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        base, final = float(self.base_lr), float(self.final_lr)
        warm, span = float(self.warmup_steps), float(self.decay_steps)
        decay_from = float(self.steps) - span
        out = np.full_like(t, base)
        if warm > 0:
            warming = t < warm
            out[warming] = t[warming] / warm * base  # not base * t: it can overflow
        if isinstance(self.decay, Schedule):
            late = t >= decay_from
            if late.any():
                out[late] = self.decay._rates(np.minimum(t[late] - decay_from, span))
        elif span > 0:
            frac = np.clip(t - decay_from, 0.0, span) / span
            if self.decay == "linear":
                shaped = final + (base - final) * (1.0 - frac)
            elif self.decay == "cosine":
                shaped = cosine_curve(base, final, frac)
            else:
                shaped = final + (base - final) * (1.0 - np.sqrt(frac))
            out = np.where(t >= decay_from, shaped, out)
        return out


wsd = WSD
