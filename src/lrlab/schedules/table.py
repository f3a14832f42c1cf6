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

import numpy as np

from lrlab.errors import invalid
from lrlab.schedules.base import FloatArray, Schedule, optional_count

__all__ = ["horizon", "rate_table", "MAX_TABLE"]

#: the longest table built (80 MB in float64)
MAX_TABLE = 10_000_000


def horizon(s: Schedule) -> float | None:
    """``s.horizon()``: a ``t`` after which ``s`` holds one value for ever, or None if it never settles."""
    return s.horizon()


def rate_table(
    s: Schedule, steps: int | None = None, steps_per_epoch: int | None = None, *, where: str = ""
) -> FloatArray:
    """``schedule(n / steps_per_epoch)`` for ``n = 0 .. N-1`` (float64); see the module docstring."""
    steps = optional_count(where, "steps", steps)
    spe = optional_count(where, "steps_per_epoch", steps_per_epoch)
    settles = s.horizon()
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
