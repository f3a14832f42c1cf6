"""Decay families: the rate falls (or holds) as training goes on.

These are the chapter's schedulers -- square-root decay, factor,
multi-factor, polynomial and cosine -- plus the closed forms that the
frameworks ship (exponential, linear, piecewise constant, inverse power).
Each holds its final value once its horizon (``steps``) is past.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrlab.schedules.base import (
    FloatArray,
    Schedule,
    flag,
    number,
    numbers_tuple,
    register,
    setfield,
)

__all__ = [
    "Constant",
    "SquareRoot",
    "InversePower",
    "Factor",
    "MultiFactor",
    "PiecewiseConstant",
    "Exponential",
    "Poly",
    "Linear",
    "Cosine",
]


@register
@dataclass(frozen=True, slots=True, repr=False)
class Constant(Schedule):
    """The same rate at every step: ``lr``."""

    lr: float
    name = "constant"

    def __post_init__(self) -> None:
        setfield(self, "lr", number(self.name, "lr", self.lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return np.full_like(t, float(self.lr))


@register
@dataclass(frozen=True, slots=True, repr=False)
class SquareRoot(Schedule):
    """The chapter's first scheduler: ``lr * (t + 1) ** -0.5``.

    >>> SquareRoot(0.1)(3)
    0.05
    """

    lr: float
    name = "square_root"

    def __post_init__(self) -> None:
        setfield(self, "lr", number(self.name, "lr", self.lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.lr / np.sqrt(t + 1.0)


@register
@dataclass(frozen=True, slots=True, repr=False)
class InversePower(Schedule):
    """Polynomial decay without a horizon: ``lr * (t + offset) ** -power``."""

    lr: float
    power: float = 0.5
    offset: float = 1.0
    name = "inverse_power"

    def __post_init__(self) -> None:
        setfield(self, "lr", number(self.name, "lr", self.lr, low=0))
        setfield(self, "power", number(self.name, "power", self.power, low=0))
        setfield(self, "offset", number(self.name, "offset", self.offset, low=0, low_open=True))

    def _rates(self, t: FloatArray) -> FloatArray:
        return self.lr * np.power(t + self.offset, -float(self.power))


@register
@dataclass(frozen=True, slots=True, repr=False)
class Factor(Schedule):
    """Multiply by ``factor`` every ``every`` steps, never below ``min_lr``.

    ``max(min_lr, base_lr * factor ** floor(t / every))`` (torch ``StepLR``
    with a floor; the chapter's ``FactorScheduler`` without its one-step lead).
    """

    base_lr: float
    factor: float
    every: float = 1
    min_lr: float = 0.0
    name = "factor"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "factor", number(where, "factor", self.factor, low=0, low_open=True, high=1))
        setfield(self, "every", number(where, "every", self.every, low=0, low_open=True))
        setfield(self, "min_lr", number(where, "min_lr", self.min_lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        decayed = self.base_lr * np.power(float(self.factor), np.floor(t / self.every))
        return np.maximum(float(self.min_lr), decayed)


@register
@dataclass(frozen=True, slots=True, repr=False)
class MultiFactor(Schedule):
    """Piecewise constant at milestones: ``base_lr * factor ** #{m <= t}``.

    The new rate applies *at* the milestone (as in torch ``MultiStepLR``); a
    milestone listed twice multiplies twice.
    """

    base_lr: float
    milestones: tuple[float, ...]
    factor: float
    name = "multi_factor"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(
            self,
            "milestones",
            numbers_tuple(where, "milestones", self.milestones, low=0, order="nondecreasing"),
        )
        setfield(self, "factor", number(where, "factor", self.factor, low=0, low_open=True))

    def _rates(self, t: FloatArray) -> FloatArray:
        passed = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), t, side="right")
        # One rate per number of milestones passed, each ``base_lr * factor ** k`` computed by
        # Python's correctly rounded ``pow`` (NumPy's SIMD ``power`` can differ in the last bit).
        rates = np.array([self.base_lr * self.factor**k for k in range(len(self.milestones) + 1)])
        return rates[passed]


@register
@dataclass(frozen=True, slots=True, repr=False)
class PiecewiseConstant(Schedule):
    """``values[k]`` where ``k`` is the number of ``boundaries <= t``.

    A boundary starts the new value (torch, optax, MXNet). With
    ``inclusive=True`` it still belongs to the old one, so ``k`` counts the
    ``boundaries < t`` (Keras ``PiecewiseConstantDecay``: ``step <= boundary``
    keeps the old value).

    >>> PiecewiseConstant([10], [0.1, 0.01])(10), PiecewiseConstant([10], [0.1, 0.01], inclusive=True)(10)
    (0.01, 0.1)
    """

    boundaries: tuple[float, ...]
    values: tuple[float, ...]
    inclusive: bool = False
    name = "piecewise_constant"

    def __post_init__(self) -> None:
        where = self.name
        bounds = numbers_tuple(where, "boundaries", self.boundaries, low=0, order="increasing")
        vals = numbers_tuple(where, "values", self.values, low=0)
        if len(vals) != len(bounds) + 1:
            raise _length_error(where, "values", vals, len(bounds) + 1, "boundaries")
        setfield(self, "boundaries", bounds)
        setfield(self, "values", vals)
        setfield(self, "inclusive", flag(where, "inclusive", self.inclusive))

    def _rates(self, t: FloatArray) -> FloatArray:
        edges = np.asarray(self.boundaries, dtype=np.float64)
        k = np.searchsorted(edges, t, side="left") if self.inclusive else np.searchsorted(edges, t, side="right")
        return np.asarray(self.values, dtype=np.float64)[k]


def _length_error(where: str, name: str, items: tuple[Any, ...], want: int, other: str) -> Exception:
    from lrlab.errors import invalid

    return invalid(name, list(items), f"of length {want} (one more than {other})", where=where)


@register
@dataclass(frozen=True, slots=True, repr=False)
class Exponential(Schedule):
    """``max(min_lr, base_lr * rate ** (t / every))``; ``floor(t / every)`` when staircase."""

    base_lr: float
    rate: float
    every: float = 1
    staircase: bool = False
    min_lr: float = 0.0
    name = "exponential"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "rate", number(where, "rate", self.rate, low=0, low_open=True))
        setfield(self, "every", number(where, "every", self.every, low=0, low_open=True))
        setfield(self, "staircase", flag(where, "staircase", self.staircase))
        setfield(self, "min_lr", number(where, "min_lr", self.min_lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        p = t / self.every
        if self.staircase:
            p = np.floor(p)
        with np.errstate(over="ignore"):
            return np.maximum(float(self.min_lr), self.base_lr * np.power(float(self.rate), p))


@register
@dataclass(frozen=True, slots=True, repr=False)
class Poly(Schedule):
    """Polynomial decay to ``final_lr`` over ``steps``, then held.

    ``final_lr + (base_lr - final_lr) * (1 - min(t, steps) / steps) ** power``
    """

    base_lr: float
    steps: float
    power: float = 1.0
    final_lr: float = 0.0
    name = "poly"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        setfield(self, "power", number(where, "power", self.power, low=0, low_open=True))
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))

    def _rates(self, t: FloatArray) -> FloatArray:
        left = 1.0 - np.minimum(t, self.steps) / self.steps
        return self.final_lr + (self.base_lr - self.final_lr) * np.power(left, float(self.power))


@register
@dataclass(frozen=True, slots=True, repr=False)
class Linear(Schedule):
    """A straight line from ``start_lr`` to ``end_lr`` over ``steps``, then held.

    ``start_lr + (end_lr - start_lr) * min(t, steps) / steps``
    """

    start_lr: float
    end_lr: float
    steps: float
    name = "linear"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "start_lr", number(where, "start_lr", self.start_lr, low=0))
        setfield(self, "end_lr", number(where, "end_lr", self.end_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = np.minimum(t, self.steps) / self.steps
        return self.start_lr + (self.end_lr - self.start_lr) * frac


@register
@dataclass(frozen=True, slots=True, repr=False)
class Cosine(Schedule):
    """Half a cosine from ``base_lr`` down to ``final_lr`` over ``steps``, then held.

    ``final_lr + (base_lr - final_lr) * ((1 + cos(pi * min(t, steps) / steps)) / 2) ** exponent``
    (Loshchilov & Hutter 2017; ``exponent`` as in optax, 1 for the plain curve).
    """

    base_lr: float
    steps: float
    final_lr: float = 0.0
    exponent: float = 1.0
    name = "cosine"

    def __post_init__(self) -> None:
        where = self.name
        setfield(self, "base_lr", number(where, "base_lr", self.base_lr, low=0))
        setfield(self, "steps", number(where, "steps", self.steps, low=0, low_open=True))
        setfield(self, "final_lr", number(where, "final_lr", self.final_lr, low=0))
        setfield(self, "exponent", number(where, "exponent", self.exponent, low=0, low_open=True))

    def _rates(self, t: FloatArray) -> FloatArray:
        frac = np.minimum(t, self.steps)
        frac /= self.steps
        return cosine_curve(self.base_lr, self.final_lr, frac, self.exponent, overwrite=True)


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
