"""Decay families: the rate falls (or holds) as training goes on.

These are the chapter's schedulers -- square-root decay, factor,
multi-factor, polynomial and cosine -- plus the closed forms that the
frameworks ship (exponential, linear, piecewise constant, inverse power).
Each holds its final value once its horizon (``steps``) is past.
"""

from __future__ import annotations

import math

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import LARGEST, FloatArray, Schedule, arg, family

__all__ = [
    "Constant",
    "constant",
    "SquareRoot",
    "square_root",
    "InversePower",
    "inverse_power",
    "Factor",
    "factor",
    "MultiFactor",
    "multi_factor",
    "PiecewiseConstant",
    "piecewise_constant",
    "Exponential",
    "exponential",
    "Poly",
    "poly",
    "Linear",
    "linear",
    "Cosine",
    "cosine",
]


@family
class Constant(Schedule):
    """The same rate at every step: ``lr``.

    >>> Constant(0.1)(0), Constant(0.1)(1e6)
    (0.1, 0.1)
    """

    lr: float = arg(low=0)
    name = "constant"

    def horizon(self) -> float | None:
        return 0.0

    def _rates(self, t: FloatArray) -> FloatArray:
        return np.full_like(t, float(self.lr))


constant = Constant


@family
class SquareRoot(Schedule):
    """The chapter's first scheduler: ``lr * (t + 1) ** -0.5``.

    >>> s = SquareRoot(0.1)
    >>> s(0), s(3), s(99)
    (0.1, 0.05, 0.01)
    """

    lr: float = arg(low=0)
    name = "square_root"

    def horizon(self) -> float | None:
        return 0.0 if self.lr == 0 else None

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.lr / np.sqrt(t + 1.0)


square_root = SquareRoot


@family
class InversePower(Schedule):
    """Polynomial decay without a horizon: ``lr * ((t + offset) / timescale) ** -power``.

    ``timescale`` sets the clock's unit: HF ``get_inverse_sqrt_schedule`` after its warmup is
    ``inverse_power(lr, offset=ts, timescale=ts)``, i.e. ``lr / sqrt(1 + t / ts)``. A clock below 1
    raised to a large power can pass the largest float (about 1.8e308): the rate is held there.

    >>> InversePower(0.1, power=1.0)(3), InversePower(0.4)(3)
    (0.025, 0.2)
    >>> InversePower(0.1, offset=100, timescale=100)(300)
    0.05
    """

    lr: float = arg(low=0)
    power: float = arg(default=0.5, low=0)
    offset: float = arg(default=1.0, low=0, low_open=True, time=True)
    timescale: float = arg(default=1.0, low=0, low_open=True, time=True)
    name = "inverse_power"

    def horizon(self) -> float | None:
        return 0.0 if self.lr == 0 else None

    def _rates(self, t: FloatArray) -> FloatArray:
        clock = t + self.offset
        if self.timescale != 1:
            clock /= self.timescale
        return scaled_power(self.lr, clock, -float(self.power))


inverse_power = InversePower


@family
class Factor(Schedule):
    """Multiply by ``factor`` every ``every`` steps, never below ``min_lr``.

    ``max(min_lr, base_lr * factor ** floor(t / every))`` (torch ``StepLR``
    with a floor; the chapter's ``FactorScheduler`` without its one-step lead).

    >>> s = Factor(2.0, factor=0.5, every=10, min_lr=0.3)
    >>> s(9), s(10), s(30)
    (2.0, 1.0, 0.3)
    """

    base_lr: float = arg(low=0)
    factor: float = arg(low=0, low_open=True, high=1)
    every: float = arg(default=1, low=0, low_open=True, time=True)
    min_lr: float = arg(default=0.0, low=0)
    name = "factor"

    def horizon(self) -> float | None:
        return decay_horizon(self.base_lr, self.factor, self.min_lr, self.every, staircase=True)

    def _rates(self, t: FloatArray) -> FloatArray:
        decayed = scaled_power(self.base_lr, self.factor, np.floor(t / self.every))
        return np.maximum(float(self.min_lr), decayed)


factor = Factor


@family
class MultiFactor(Schedule):
    """Piecewise constant at milestones: ``base_lr * factor ** #{m <= t}``.

    The new rate applies *at* the milestone (as in torch ``MultiStepLR``); a
    milestone listed twice multiplies twice. With ``factor > 1`` a rate past the
    largest float (about 1.8e308) is held there.

    >>> s = MultiFactor(0.5, milestones=[15, 30], factor=0.5)
    >>> s(14), s(15), s(30)
    (0.5, 0.25, 0.125)
    """

    base_lr: float = arg(low=0)
    milestones: tuple[float, ...] = arg(kind="numbers", low=0, order="nondecreasing", time=True)
    factor: float = arg(low=0, low_open=True)
    name = "multi_factor"

    def horizon(self) -> float | None:
        return float(self.milestones[-1]) if self.milestones else 0.0

    def _rates(self, t: FloatArray) -> FloatArray:
        passed = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), t, side="right")
        # One rate per number of milestones passed, each ``base_lr * factor ** k`` computed by
        # Python's correctly rounded ``pow`` (NumPy's SIMD ``power`` can differ in the last bit).
        count = len(self.milestones) + 1
        ks = np.arange(count, dtype=np.float64)
        rates = scaled_power(self.base_lr, self.factor, ks, power=_pows(self.factor, count))
        return rates[passed]


multi_factor = MultiFactor


@family
class PiecewiseConstant(Schedule):
    """``values[k]`` where ``k`` is the number of ``boundaries <= t``.

    A boundary starts the new value (torch, optax, MXNet). With
    ``inclusive=True`` it still belongs to the old one, so ``k`` counts the
    ``boundaries < t`` (Keras ``PiecewiseConstantDecay``: ``step <= boundary``
    keeps the old value).

    >>> PiecewiseConstant([10], [0.1, 0.01])(10), PiecewiseConstant([10], [0.1, 0.01], inclusive=True)(10)
    (0.01, 0.1)
    """

    boundaries: tuple[float, ...] = arg(kind="numbers", low=0, order="increasing", time=True)
    values: tuple[float, ...] = arg(kind="numbers", low=0)
    inclusive: bool = arg(default=False)
    name = "piecewise_constant"

    def __check_init__(self) -> None:
        if len(self.values) != len(self.boundaries) + 1:
            need = f"of length {len(self.boundaries) + 1} (one more than boundaries)"
            raise invalid("values", list(self.values), need, where=self.name)

    def horizon(self) -> float | None:
        return float(self.boundaries[-1]) if self.boundaries else 0.0

    def _rates(self, t: FloatArray) -> FloatArray:
        edges = np.asarray(self.boundaries, dtype=np.float64)
        k = np.searchsorted(edges, t, side="left") if self.inclusive else np.searchsorted(edges, t, side="right")
        return np.asarray(self.values, dtype=np.float64)[k]


piecewise_constant = PiecewiseConstant


@family
class Exponential(Schedule):
    """``max(min_lr, base_lr * rate ** (t / every))``; ``floor(t / every)`` when staircase.

    With ``rate > 1`` the rate grows without end: past the largest float (about 1.8e308) it is
    held there (wrap it in ``clipped(..., max_lr=...)`` for a real ceiling).

    >>> Exponential(0.1, rate=0.5, every=10)(5), Exponential(0.1, rate=0.5, every=10, staircase=True)(15)
    (0.07071067811865477, 0.05)
    """

    base_lr: float = arg(low=0)
    rate: float = arg(low=0, low_open=True)
    every: float = arg(default=1, low=0, low_open=True, time=True)
    staircase: bool = arg(default=False)
    min_lr: float = arg(default=0.0, low=0)
    name = "exponential"

    def horizon(self) -> float | None:
        return decay_horizon(self.base_lr, self.rate, self.min_lr, self.every, staircase=self.staircase)

    def _rates(self, t: FloatArray) -> FloatArray:
        p = t / self.every
        if self.staircase:
            p = np.floor(p)
        return np.maximum(float(self.min_lr), scaled_power(self.base_lr, self.rate, p))


exponential = Exponential


def decay_horizon(base: float, rate: float, floor: float, every: float, *, staircase: bool) -> float | None:
    """Where ``max(floor, base * rate ** (t / every))`` reaches ``floor`` (with one period to spare)."""
    if base == 0 or rate == 1 or base <= floor:
        return 0.0
    if rate > 1 or floor <= 0:
        return None
    periods = (math.log(floor) - math.log(base)) / math.log(rate)  # not log(floor / base): that can underflow
    end = (math.ceil(periods) + 1.0 if staircase else periods + 1.0) * float(every)
    return end if math.isfinite(end) else None  # past the largest float: never, as far as a float t goes


@family
class Poly(Schedule):
    """Polynomial decay to ``final_lr`` over ``steps``, then held.

    ``final_lr + (base_lr - final_lr) * (1 - min(t, steps) ** k_decay / steps ** k_decay) ** power``

    ``k_decay`` (timm's, Zhang et al. 2020) bends the clock: above 1 the rate stays high longer.

    >>> Poly(0.1, steps=10, power=2.0)(5), Poly(0.1, steps=10)(50)
    (0.025, 0.0)
    >>> round(Poly(0.1, steps=10, k_decay=2.0)(5), 12)
    0.075
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    power: float = arg(default=1.0, low=0, low_open=True)
    final_lr: float = arg(default=0.0, low=0)
    k_decay: float = arg(default=1.0, low=0, low_open=True)
    name = "poly"

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        left = 1.0 - warped(np.minimum(t, self.steps), self.steps, self.k_decay)
        return self.final_lr + (self.base_lr - self.final_lr) * np.power(left, float(self.power))


poly = Poly


@family
class Linear(Schedule):
    """A straight line from ``start_lr`` to ``end_lr`` over ``steps``, then held.

    ``start_lr + (end_lr - start_lr) * min(t, steps) / steps``

    >>> Linear(0.0, 0.1, steps=4)(1), Linear(0.0, 0.1, steps=4)(9)
    (0.025, 0.1)
    """

    start_lr: float = arg(low=0)
    end_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    name = "linear"

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = np.minimum(t, self.steps) / self.steps
        return self.start_lr + (self.end_lr - self.start_lr) * frac


linear = Linear


@family
class Cosine(Schedule):
    """Half a cosine from ``base_lr`` down to ``final_lr`` over ``steps``, then held.

    ``final_lr + (base_lr - final_lr) * ((1 + cos(pi * f)) / 2) ** exponent``,
    ``f = min(t, steps) ** k_decay / steps ** k_decay``
    (Loshchilov & Hutter 2017; ``exponent`` as in optax, ``k_decay`` as in timm; 1 for the plain curve).

    >>> s = Cosine(0.3, steps=20, final_lr=0.1)
    >>> s(0), round(s(10), 12), s(20), s(99)
    (0.3, 0.2, 0.1, 0.1)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True, time=True)
    final_lr: float = arg(default=0.0, low=0)
    exponent: float = arg(default=1.0, low=0, low_open=True)
    k_decay: float = arg(default=1.0, low=0, low_open=True)
    name = "cosine"

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = warped(np.minimum(t, self.steps), self.steps, self.k_decay, overwrite=True)
        return cosine_curve(self.base_lr, self.final_lr, frac, self.exponent, overwrite=True)


cosine = Cosine


def warped(t: FloatArray, steps: float, k: float, *, overwrite: bool = False) -> FloatArray:
    """The fraction of ``steps`` done, ``t ** k / steps ** k`` (timm's k-decay; ``t / steps`` for k = 1).

    ``overwrite=True`` computes in `t`'s own memory."""
    out = t if overwrite else None
    if k == 1:
        return np.divide(t, steps, out=out)
    try:
        scale = float(steps) ** float(k)
    except OverflowError:
        scale = 0.0
    if not (scale > 0 and math.isfinite(scale)):  # steps ** k out of range: the same ratio, another rounding
        frac = np.divide(t, steps, out=out)
        return np.power(frac, float(k), out=frac)
    frac = np.power(t, float(k), out=out)
    frac /= scale
    return frac


_TINY = float(np.finfo(np.float64).tiny)  # the smallest normal float


def scaled_power(
    scale: float, base: float | FloatArray, exponent: float | FloatArray, *, power: list[float] | None = None
) -> FloatArray:
    """``scale * base ** exponent`` elementwise (``scale >= 0``, ``base >= 0``), never inf or NaN.

    Where ``base ** exponent`` leaves the normal floats (0, subnormal or inf) the product is taken
    in log space, ``exp(log(scale) + exponent * log(base))``, so that ``1e300 * 0.5 ** 1200`` is
    ``5.8e-62``, not 0; a product past the largest float is held at `LARGEST`. `power` gives
    ``base ** exponent`` already computed (as Python's correctly rounded ``pow``).
    """
    scale = float(scale)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        pw = np.asarray(np.power(base, exponent) if power is None else power, dtype=np.float64)
        if scale == 0.0:  # 0, not 0 * inf
            return np.zeros_like(pw)
        out: FloatArray = scale * pw
        odd = ~((pw >= _TINY) & (pw <= LARGEST))
        if odd.any():
            b = np.broadcast_to(np.asarray(base, dtype=np.float64), out.shape)[odd]
            e = np.broadcast_to(np.asarray(exponent, dtype=np.float64), out.shape)[odd]
            out[odd] = np.exp(math.log(scale) + e * np.log(b))
    return np.minimum(out, LARGEST, out=out)


def _pows(base: float, count: int) -> list[float]:
    """``base ** k`` for ``k < count`` by Python's correctly rounded ``pow`` (inf where it overflows)."""
    out: list[float] = []
    for k in range(count):
        try:
            out.append(float(base) ** k)
        except OverflowError:
            out.append(math.inf)
    return out


def cosine_curve(
    high: float | FloatArray, low: float, frac: FloatArray, exponent: float = 1.0, *, overwrite: bool = False
) -> FloatArray:
    """Shared half-cosine from ``high`` (frac 0) to ``low`` (frac 1):
    ``low + (high - low) * ((1 + cos(pi * frac)) / 2) ** exponent``.

    ``overwrite=True`` computes in `frac`'s own memory (one 8 MB array less per 10^6 steps)."""
    # in place on one array: the same operations in the same order as the formula
    shape = np.multiply(np.pi, frac, out=frac if overwrite else None)
    np.cos(shape, out=shape)
    shape += 1.0
    shape /= 2.0
    if exponent != 1.0:
        np.power(shape, float(exponent), out=shape)
    if isinstance(high, np.ndarray):
        result: FloatArray = low + (high - low) * shape
        return result
    shape *= high - low
    shape += low
    return shape
