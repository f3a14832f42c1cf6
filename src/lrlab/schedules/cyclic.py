"""Families that go up as well as down: restarts, cycles, one-cycle and WSD.

These are the shapes that the best libraries add on top of the chapter:
SGDR's warm restarts, Smith's cyclical rates, the one-cycle policy and the
warmup-stable-decay schedule used for large language models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import FloatArray, Schedule, choice, number, register, setfield
from lrlab.schedules.decay import cosine_curve

__all__ = ["CosineRestarts", "Cyclic", "OneCycle", "WSD"]


@register
@dataclass(frozen=True, slots=True, repr=False)
class CosineRestarts(Schedule):
    """SGDR (Loshchilov & Hutter 2017): cosine cycles that restart at the peak.

    Cycle ``i`` lasts ``period * period_mult ** i`` steps and starts at
    ``base_lr * decay ** i``; within a cycle at position ``c`` of length ``T``:
    ``final_lr + (peak - final_lr) * (1 + cos(pi * c / T)) / 2``.
    """

    base_lr: float
    period: float
    period_mult: float = 1.0
    final_lr: float = 0.0
    decay: float = 1.0
    name = "cosine_restarts"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "period", number(where, "period", self.period, low=0, low_open=True))
        setfield(self, "period_mult", number(where, "period_mult", self.period_mult, low=1))
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))
        setfield(self, "decay", number(where, "decay", self.decay, low=0, low_open=True, high=1))

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


@register
@dataclass(frozen=True, slots=True, repr=False)
class Cyclic(Schedule):
    """Smith's cyclical learning rate (2017), as torch ``CyclicLR`` computes it.

    A triangle between ``base_lr`` and ``max_lr``: up over ``step_size`` steps,
    down over ``step_size_down`` (default: the same). The triangle's height is
    scaled by 1 (``"triangular"``), halved every cycle (``"triangular2"``) or
    by ``gamma ** t`` (``"exp_range"``).
    """

    base_lr: float
    max_lr: float
    step_size: float
    mode: str = "triangular"
    gamma: float = 1.0
    step_size_down: float | None = None
    name = "cyclic"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "max_lr", number(where, "max_lr", self.max_lr, low=0))
        if self.max_lr < self.base_lr:
            raise invalid("max_lr", self.max_lr, f">= base_lr ({self.base_lr})", where=where)
        setfield(self, "step_size", number(where, "step_size", self.step_size, low=0, low_open=True))
        setfield(self, "mode", choice(where, "mode", self.mode, ("triangular", "triangular2", "exp_range")))
        setfield(self, "gamma", number(where, "gamma", self.gamma, low=0, low_open=True, high=1))
        if self.step_size_down is not None:
            down = number(where, "step_size_down", self.step_size_down, low=0, low_open=True)
            setfield(self, "step_size_down", down)

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


@register
@dataclass(frozen=True, slots=True, repr=False)
class OneCycle(Schedule):
    """Smith's one-cycle policy (2018): up to ``max_lr``, then far below the start.

    From ``max_lr / div_factor`` up to ``max_lr`` over the first
    ``pct_start * steps`` steps, then down to
    ``max_lr / div_factor / final_div_factor`` at ``steps``, held after.
    ``anneal`` shapes both phases: ``"cos"`` or ``"linear"``.
    """

    max_lr: float
    steps: float
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    name = "one_cycle"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "max_lr", number(where, "max_lr", self.max_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        pct = number(where, "pct_start", self.pct_start, low=0, low_open=True, high=1, high_open=True)
        setfield(self, "pct_start", pct)
        setfield(self, "div_factor", number(where, "div_factor", self.div_factor, low=0, low_open=True))
        fdf = number(where, "final_div_factor", self.final_div_factor, low=0, low_open=True)
        setfield(self, "final_div_factor", fdf)
        setfield(self, "anneal", choice(where, "anneal", self.anneal, ("cos", "linear")))

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


@register
@dataclass(frozen=True, slots=True, repr=False)
class WSD(Schedule):
    """Warmup-stable-decay (Hu et al. 2024, "MiniCPM").

    Linear from 0 to ``base_lr`` over ``warmup_steps``; held at ``base_lr``;
    then over the last ``decay_steps`` of ``steps`` down to ``final_lr``
    (``"linear"``, ``"cosine"`` or ``"sqrt"``: ``1 - sqrt(frac)``); held after.
    """

    base_lr: float
    steps: float
    warmup_steps: float
    decay_steps: float
    final_lr: float = 0.0
    decay: str = "linear"
    name = "wsd"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        setfield(self, "warmup_steps", number(where, "warmup_steps", self.warmup_steps, low=0))
        setfield(self, "decay_steps", number(where, "decay_steps", self.decay_steps, low=0))
        if self.warmup_steps + self.decay_steps > self.steps:
            need = f"<= steps - warmup_steps ({self.steps - self.warmup_steps:g})"
            raise invalid("decay_steps", self.decay_steps, need, where=where)
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))
        setfield(self, "decay", choice(where, "decay", self.decay, ("linear", "cosine", "sqrt")))

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
