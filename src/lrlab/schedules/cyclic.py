"""Families that go up as well as down: restarts, cycles, one-cycle and WSD.

These are the shapes that the best libraries add on top of the chapter:
SGDR's warm restarts, Smith's cyclical rates, the one-cycle policy and the
warmup-stable-decay schedule used for large language models.
"""

from __future__ import annotations

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import FloatArray, Schedule, arg, family
from lrlab.schedules.decay import cosine_curve

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
    period: float = arg(low=0, low_open=True)
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
            return index, index * period, np.full_like(t, period)

        # Cycle starts as running sums of the cycle lengths, so a restart lands
        # exactly where the lengths add up (the closed form p*(m**i-1)/(m-1) can
        # miss it by an ulp and put t = period at the end of cycle 0).
        t_max = float(t.max()) if t.size else 0.0
        count = int(np.log1p(t_max / period * (mult - 1.0)) / np.log(mult)) + 2
        lengths = period * np.power(mult, np.arange(count, dtype=np.float64))
        starts = np.concatenate(([0.0], np.cumsum(lengths)))
        index = np.searchsorted(starts, t, side="right") - 1
        return index.astype(np.float64), starts[index], lengths[index]

    def _rates(self, t: FloatArray) -> FloatArray:
        index, begin, length = self.cycles(t)
        peak = self.base_lr * np.power(float(self.decay), index)
        return cosine_curve(peak, self.final_lr, (t - begin) / length)


cosine_restarts = CosineRestarts


@family
class Cyclic(Schedule):
    """Smith's cyclical learning rate (2017), as torch ``CyclicLR`` computes it.

    ``base_lr + (max_lr - base_lr) * triangle(t) * scale(t)``: a triangle that
    rises from 0 to 1 over ``step_size`` steps and falls back over
    ``step_size_down`` (default: the same), its height scaled by 1
    (``"triangular"``), halved every cycle (``"triangular2"``) or by
    ``gamma ** t`` (``"exp_range"``).

    >>> s = Cyclic(0.1, max_lr=0.5, step_size=4)
    >>> s(0), s(4), s(8)
    (0.1, 0.5, 0.1)
    """

    base_lr: float = arg(low=0)
    max_lr: float = arg(low=0)
    step_size: float = arg(low=0, low_open=True)
    mode: str = arg(default="triangular", choices=("triangular", "triangular2", "exp_range"))
    gamma: float = arg(default=1.0, low=0, low_open=True, high=1)
    step_size_down: float | None = arg(default=None, low=0, low_open=True)
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
        cycle = np.floor(1.0 + t / total)
        x = 1.0 + t / total - cycle
        ratio = up / total
        scale = np.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular2":
            with np.errstate(over="ignore"):
                height = height / np.power(2.0, cycle - 1.0)
        elif self.mode == "exp_range":
            height = height * np.power(float(self.gamma), t)
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
    steps: float = arg(low=0, low_open=True)
    pct_start: float = arg(default=0.3, low=0, low_open=True, high=1, high_open=True)
    div_factor: float = arg(default=25.0, low=0, low_open=True)
    final_div_factor: float = arg(default=1e4, low=0, low_open=True)
    anneal: str = arg(default="cos", choices=("cos", "linear"))
    name = "one_cycle"

    def horizon(self) -> float | None:
        return float(self.steps)

    @property
    def initial_lr(self) -> float:
        return float(self.max_lr / self.div_factor)

    @property
    def min_lr(self) -> float:
        return float(self.initial_lr / self.final_div_factor)

    def _rates(self, t: FloatArray) -> FloatArray:
        peak_at = float(self.pct_start * self.steps)
        rest = float(self.steps) - peak_at
        rising = np.minimum(t, peak_at) / peak_at
        falling = np.clip(t - peak_at, 0.0, rest) / rest
        up = self._anneal(self.initial_lr, self.max_lr, rising)
        down = self._anneal(self.max_lr, self.min_lr, falling)
        return np.where(t <= peak_at, up, down)

    def _anneal(self, start: float, end: float, frac: FloatArray) -> FloatArray:
        if self.anneal == "cos":
            return cosine_curve(start, end, frac)
        return start + (end - start) * frac


one_cycle = OneCycle


@family
class WSD(Schedule):
    """Warmup-stable-decay (Hu et al. 2024, "MiniCPM").

    ``base_lr * t / warmup_steps`` while warming up, ``base_lr`` while stable, then over the last
    ``decay_steps`` of ``steps``: ``final_lr + (base_lr - final_lr) * shape(frac)``, held after;
    ``shape`` is ``1 - frac`` (``"linear"``), ``(1 + cos(pi * frac)) / 2`` (``"cosine"``) or
    ``1 - sqrt(frac)`` (``"sqrt"``).

    >>> s = WSD(0.1, steps=100, warmup_steps=10, decay_steps=20)
    >>> s(5), s(50), s(90), s(100)
    (0.05, 0.1, 0.05, 0.0)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True)
    warmup_steps: float = arg(low=0)
    decay_steps: float = arg(low=0)
    final_lr: float = arg(default=0.0, low=0)
    decay: str = arg(default="linear", choices=("linear", "cosine", "sqrt"))
    name = "wsd"

    def __check_init__(self) -> None:
        if self.warmup_steps + self.decay_steps > self.steps:
            need = f"<= steps - warmup_steps ({self.steps - self.warmup_steps:g})"
            raise invalid("decay_steps", self.decay_steps, need, where=self.name)

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        base, final = float(self.base_lr), float(self.final_lr)
        warm, span = float(self.warmup_steps), float(self.decay_steps)
        decay_from = float(self.steps) - span
        out = np.full_like(t, base)
        if warm > 0:
            out = np.where(t < warm, base * t / warm, out)
        if span > 0:
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
