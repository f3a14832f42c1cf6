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
from lrlab.schedules.base import FloatArray, Schedule, arg, family

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
    """Polynomial decay without a horizon: ``lr * (t + offset) ** -power``.

    >>> InversePower(0.1, power=1.0)(3), InversePower(0.4)(3)
    (0.025, 0.2)
    """

    lr: float = arg(low=0)
    power: float = arg(default=0.5, low=0)
    offset: float = arg(default=1.0, low=0, low_open=True)
    name = "inverse_power"

    def horizon(self) -> float | None:
        return 0.0 if self.lr == 0 else None

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.lr * np.power(t + self.offset, -float(self.power))


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
    every: float = arg(default=1, low=0, low_open=True)
    min_lr: float = arg(default=0.0, low=0)
    name = "factor"

    def horizon(self) -> float | None:
        return decay_horizon(self.base_lr, self.factor, self.min_lr, self.every, staircase=True)

    def _rates(self, t: FloatArray) -> FloatArray:
        decayed = self.base_lr * np.power(float(self.factor), np.floor(t / self.every))
        return np.maximum(float(self.min_lr), decayed)


factor = Factor


@family
class MultiFactor(Schedule):
    """Piecewise constant at milestones: ``base_lr * factor ** #{m <= t}``.

    The new rate applies *at* the milestone (as in torch ``MultiStepLR``); a
    milestone listed twice multiplies twice.

    >>> s = MultiFactor(0.5, milestones=[15, 30], factor=0.5)
    >>> s(14), s(15), s(30)
    (0.5, 0.25, 0.125)
    """

    base_lr: float = arg(low=0)
    milestones: tuple[float, ...] = arg(kind="numbers", low=0, order="nondecreasing")
    factor: float = arg(low=0, low_open=True)
    name = "multi_factor"

    def horizon(self) -> float | None:
        return float(self.milestones[-1]) if self.milestones else 0.0

    def _rates(self, t: FloatArray) -> FloatArray:
        passed = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), t, side="right")
        # One rate per number of milestones passed, each ``base_lr * factor ** k`` computed by
        # Python's correctly rounded ``pow`` (NumPy's SIMD ``power`` can differ in the last bit).
        rates = np.array([self.base_lr * self.factor**k for k in range(len(self.milestones) + 1)])
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

    boundaries: tuple[float, ...] = arg(kind="numbers", low=0, order="increasing")
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

    >>> Exponential(0.1, rate=0.5, every=10)(5), Exponential(0.1, rate=0.5, every=10, staircase=True)(15)
    (0.07071067811865477, 0.05)
    """

    base_lr: float = arg(low=0)
    rate: float = arg(low=0, low_open=True)
    every: float = arg(default=1, low=0, low_open=True)
    staircase: bool = arg(default=False)
    min_lr: float = arg(default=0.0, low=0)
    name = "exponential"

    def horizon(self) -> float | None:
        return decay_horizon(self.base_lr, self.rate, self.min_lr, self.every, staircase=self.staircase)

    def _rates(self, t: FloatArray) -> FloatArray:
        p = t / self.every
        if self.staircase:
            p = np.floor(p)
        with np.errstate(over="ignore"):
            return np.maximum(float(self.min_lr), self.base_lr * np.power(float(self.rate), p))


exponential = Exponential


def decay_horizon(base: float, rate: float, floor: float, every: float, *, staircase: bool) -> float | None:
    """Where ``max(floor, base * rate ** (t / every))`` reaches ``floor`` (with one period to spare)."""
    if base == 0 or rate == 1 or base <= floor:
        return 0.0
    if rate > 1 or floor <= 0:
        return None
    periods = math.log(floor / base) / math.log(rate)
    return (math.ceil(periods) + 1) * float(every) if staircase else (periods + 1.0) * float(every)


@family
class Poly(Schedule):
    """Polynomial decay to ``final_lr`` over ``steps``, then held.

    ``final_lr + (base_lr - final_lr) * (1 - min(t, steps) / steps) ** power``

    >>> Poly(0.1, steps=10, power=2.0)(5), Poly(0.1, steps=10)(50)
    (0.025, 0.0)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True)
    power: float = arg(default=1.0, low=0, low_open=True)
    final_lr: float = arg(default=0.0, low=0)
    name = "poly"

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        left = 1.0 - np.minimum(t, self.steps) / self.steps
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
    steps: float = arg(low=0, low_open=True)
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

    ``final_lr + (base_lr - final_lr) * ((1 + cos(pi * min(t, steps) / steps)) / 2) ** exponent``
    (Loshchilov & Hutter 2017; ``exponent`` as in optax, 1 for the plain curve).

    >>> s = Cosine(0.3, steps=20, final_lr=0.1)
    >>> s(0), round(s(10), 12), s(20), s(99)
    (0.3, 0.2, 0.1, 0.1)
    """

    base_lr: float = arg(low=0)
    steps: float = arg(low=0, low_open=True)
    final_lr: float = arg(default=0.0, low=0)
    exponent: float = arg(default=1.0, low=0, low_open=True)
    name = "cosine"

    def horizon(self) -> float | None:
        return float(self.steps)

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = np.minimum(t, self.steps)
        frac /= self.steps
        return cosine_curve(self.base_lr, self.final_lr, frac, self.exponent, overwrite=True)


cosine = Cosine


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
