"""Keras 3's ``keras.optimizers.schedules``, as lrlab schedules.

Each function takes the Keras class's arguments (not ``name``) and returns a
core schedule ``s`` with ``s(t) == schedule(t)``: Keras calls its schedule with
``optimizer.iterations``, which is 0 at the first update, as lrlab counts.

>>> from lrlab.compat import keras as K
>>> K.PiecewiseConstantDecay(boundaries=[15, 30], values=[0.5, 0.25, 0.125])
lrlab.piecewise_constant([15, 30], values=[0.5, 0.25, 0.125], inclusive=True)
>>> K.CosineDecay(0.0, decay_steps=40, warmup_target=0.1, warmup_steps=10)
lrlab.warmup(lrlab.cosine(0.1, steps=40), steps=10)

``keras.callbacks.LearningRateScheduler`` takes a Python function of the
epoch; write that function with lrlab's families (per epoch) instead, e.g.
``lambda epoch: 0.1 * 0.5 ** (epoch // 10)`` is ``factor(0.1, factor=0.5, every=10)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lrlab.frameworks.compat._common import check, check_flag, check_list, rate, refuse, warmed
from lrlab.schedules import (
    Cosine,
    CosineRestarts,
    Exponential,
    InverseTime,
    Lifted,
    PiecewiseConstant,
    Poly,
    PolyCycle,
    Schedule,
)

__all__ = [
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
]


def ExponentialDecay(
    initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``initial_learning_rate * decay_rate ** (t / decay_steps)`` (floored when staircase): `exponential`."""
    where = "keras.ExponentialDecay"
    lr = rate(where, "initial_learning_rate", initial_learning_rate)
    steps = check(where, "decay_steps", decay_steps, low=0, low_open=True)
    r = check(where, "decay_rate", decay_rate, low=0, low_open=True)
    return Exponential(lr, rate=r, every=steps, staircase=check_flag(where, "staircase", staircase))


def PiecewiseConstantDecay(boundaries: Sequence[float], values: Sequence[float]) -> Schedule:
    """``values[k]``, k = number of ``boundaries < t``: `piecewise_constant` with ``inclusive=True``.

    Keras keeps the old value *at* a boundary (``step <= boundary``); the new
    value starts one step later than in torch, optax or MXNet.
    """
    where = "keras.PiecewiseConstantDecay"
    bounds = check_list(where, "boundaries", boundaries, low=0, order="increasing")
    vals = check_list(where, "values", values, low=0)
    if len(vals) != len(bounds) + 1:
        raise refuse(where, "values", list(vals), f"of length {len(bounds) + 1} (one more than boundaries)")
    return PiecewiseConstant(bounds, vals, inclusive=True)


def PolynomialDecay(
    initial_learning_rate: float,
    decay_steps: float,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
) -> Schedule:
    """Polynomial decay to ``end_learning_rate``: `poly`, or `poly_cycle` when ``cycle=True``.

    With ``cycle=True`` Keras stretches the horizon to the next multiple of
    ``decay_steps`` instead of holding the end value, so just after each
    multiple the rate jumps up -- but not back to ``initial_learning_rate``.
    """
    where = "keras.PolynomialDecay"
    lr = rate(where, "initial_learning_rate", initial_learning_rate)
    steps = check(where, "decay_steps", decay_steps, low=0, low_open=True)
    end = rate(where, "end_learning_rate", end_learning_rate)
    p = check(where, "power", power, low=0, low_open=True)
    if check_flag(where, "cycle", cycle):
        return PolyCycle(lr, steps=steps, power=p, final_lr=end)
    return Poly(lr, steps=steps, power=p, final_lr=end)


def InverseTimeDecay(
    initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False
) -> Schedule:
    """``initial_learning_rate / (1 + decay_rate * t / decay_steps)`` (floored when staircase): `inverse_time`."""
    where = "keras.InverseTimeDecay"
    lr = rate(where, "initial_learning_rate", initial_learning_rate)
    steps = check(where, "decay_steps", decay_steps, low=0, low_open=True)
    r = check(where, "decay_rate", decay_rate, low=0)
    return InverseTime(lr, rate=r, every=steps, staircase=check_flag(where, "staircase", staircase))


def CosineDecay(
    initial_learning_rate: float,
    decay_steps: float,
    alpha: float = 0.0,
    *,
    warmup_target: float | None = None,
    warmup_steps: float = 0,
) -> Schedule:
    """Cosine from the peak down to ``alpha * peak`` over ``decay_steps``, then held: `cosine`.

    Without ``warmup_target`` the peak is ``initial_learning_rate`` and
    ``warmup_steps`` is ignored (as Keras ignores it). With it, the rate
    climbs linearly from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, and *then* decays over ``decay_steps`` more steps: the
    decay length excludes the warmup (`warmup` around `cosine`).
    """
    where = "keras.CosineDecay"
    lr = rate(where, "initial_learning_rate", initial_learning_rate)
    steps = check(where, "decay_steps", decay_steps, low=0, low_open=True)
    a = check(where, "alpha", alpha, low=0)
    warm = check(where, "warmup_steps", warmup_steps, low=0)
    if warmup_target is None:
        return Cosine(lr, steps=steps, final_lr=lr * a)
    target = rate(where, "warmup_target", warmup_target)
    decay = Cosine(target, steps=steps, final_lr=target * a)
    return warmed(decay, warm, lr)


def CosineDecayRestarts(
    initial_learning_rate: float,
    first_decay_steps: float,
    t_mul: float = 2.0,
    m_mul: float = 1.0,
    alpha: float = 0.0,
) -> Schedule:
    """SGDR as Keras computes it: `cosine_restarts`, `lifted` onto ``alpha * initial_learning_rate``.

    Cycle ``i`` lasts ``first_decay_steps * t_mul ** i`` steps. Keras shrinks
    the height *above* the floor by ``m_mul`` each cycle, so every cycle still
    ends at ``alpha * initial_learning_rate``:
    ``lr * (alpha + (1 - alpha) * m_mul ** i * (1 + cos(pi * c)) / 2)``.
    """
    where = "keras.CosineDecayRestarts"
    lr = rate(where, "initial_learning_rate", initial_learning_rate)
    period = check(where, "first_decay_steps", first_decay_steps, low=0, low_open=True)
    mult = check(where, "t_mul", t_mul, low=1)
    decay = check(where, "m_mul", m_mul, low=0, low_open=True, high=1)
    a = check(where, "alpha", alpha, low=0, high=1)
    if a == 0:
        return CosineRestarts(lr, period=period, period_mult=mult, decay=decay)
    waves = CosineRestarts(lr * (1 - a), period=period, period_mult=mult, decay=decay)
    return Lifted(waves, by=lr * a)
