"""Tables of a schedule's rates for adapters whose step arrives as a traced tensor.

Keras and optax call the schedule with the update count as a tensor inside a
compiled graph, where lrlab's NumPy code cannot run. They look the rate up
in a table instead: ``table[min(n, len(table) - 1)]`` for update count ``n``.
The table holds ``schedule(n / steps_per_epoch)`` for ``n = 0 .. N-1``, in
float64, so each rate is exactly the schedule's (rounded once to float32
where the framework computes in float32).

``N`` is exact when the schedule *settles* -- holds one value from some
step on (its `horizon`): then every later count reads that value. Otherwise
the caller must say how long training runs (``steps=``) and the rate is held
at ``schedule((steps - 1) / steps_per_epoch)`` after that.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules import (
    WSD,
    Clipped,
    Constant,
    Cosine,
    CosineRestarts,
    Cyclic,
    Exponential,
    Factor,
    InversePower,
    Join,
    Linear,
    MultiFactor,
    OneCycle,
    PiecewiseConstant,
    Poly,
    Scaled,
    Schedule,
    SquareRoot,
    Warmup,
)
from lrlab.schedules.base import FloatArray

__all__ = ["horizon", "rate_table", "MAX_TABLE"]

#: the longest table built (80 MB in float64)
MAX_TABLE = 10_000_000


def horizon(s: Schedule) -> float | None:
    """A ``t`` from which ``s`` holds one value for ever, or None if it never settles (or is unknown).

    The answer may be later than the first such ``t`` (a longer table is still exact).
    """
    if isinstance(s, Constant):
        return 0.0
    if isinstance(s, MultiFactor):
        return float(s.milestones[-1]) if s.milestones else 0.0
    if isinstance(s, PiecewiseConstant):
        return float(s.boundaries[-1]) if s.boundaries else 0.0
    if isinstance(s, Poly | Linear | Cosine | OneCycle | WSD):
        return float(s.steps)
    if isinstance(s, SquareRoot | InversePower):
        return 0.0 if s.lr == 0 else None
    if isinstance(s, Factor):
        return _decay_horizon(s.base_lr, s.factor, s.min_lr, s.every, staircase=True)
    if isinstance(s, Exponential):
        return _decay_horizon(s.base_lr, s.rate, s.min_lr, s.every, staircase=s.staircase)
    if isinstance(s, Cyclic):
        return 0.0 if s.max_lr == s.base_lr else None
    if isinstance(s, CosineRestarts):
        return 0.0 if s.base_lr == s.final_lr and s.decay == 1 else None
    if isinstance(s, Warmup):
        inner = horizon(s.schedule)
        return None if inner is None else float(s.steps) + inner
    if isinstance(s, Join):
        last = horizon(s.schedules[-1])
        start = float(s.boundaries[-1]) if s.boundaries else 0.0
        return None if last is None else start + last
    if isinstance(s, Scaled):
        return 0.0 if s.by == 0 else horizon(s.schedule)
    if isinstance(s, Clipped):
        return horizon(s.schedule)
    return _extra_horizon(s)


def _extra_horizon(s: Schedule) -> float | None:
    """The families of `lrlab.schedules.extra`, by spec name (None for any family not known here)."""
    x: Any = s
    if s.name == "skip":
        inner = horizon(x.schedule)
        return None if inner is None else max(0.0, inner - float(x.steps))
    if s.name == "lifted":
        return horizon(x.schedule)
    if s.name == "inverse_time":
        return 0.0 if x.base_lr == 0 or x.rate == 0 else None
    if s.name in ("cosine_wave", "poly_cycle"):
        return 0.0 if x.base_lr == x.final_lr else None
    return None


def _decay_horizon(base: float, rate: float, floor: float, every: float, *, staircase: bool) -> float | None:
    """Where ``max(floor, base * rate ** (t / every))`` reaches ``floor`` (with one period to spare)."""
    if base == 0 or rate == 1 or base <= floor:
        return 0.0
    if rate > 1 or floor <= 0:
        return None
    periods = math.log(floor / base) / math.log(rate)
    return (math.ceil(periods) + 1) * float(every) if staircase else (periods + 1.0) * float(every)


def rate_table(
    s: Schedule, steps: int | None = None, steps_per_epoch: int | None = None, *, where: str = ""
) -> FloatArray:
    """``schedule(n / steps_per_epoch)`` for ``n = 0 .. N-1`` (float64); see the module docstring."""
    steps = _positive_int("steps", steps, where)
    spe = _positive_int("steps_per_epoch", steps_per_epoch, where)
    settles = horizon(s)
    exact = None if settles is None else math.floor(settles * (spe or 1)) + 2
    if exact is None and steps is None:
        raise invalid(
            "steps",
            None,
            f"given for {s} (it never settles to one value): the number of training updates",
            where=where,
        )
    if steps is None and exact is not None and exact > MAX_TABLE:
        raise invalid("steps", None, f"given for {s} (it settles only after {exact} updates)", where=where)
    n = exact if steps is None else steps if exact is None else min(steps, exact)
    assert n is not None
    if n > MAX_TABLE:
        raise invalid("steps", n, f"<= {MAX_TABLE} (the table of rates is built in memory)", where=where)
    counts = np.arange(n, dtype=np.float64)
    return s(counts if spe is None else counts / spe)


def _positive_int(name: str, value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise invalid(name, value, "an integer > 0", where=where)
    return int(value)
