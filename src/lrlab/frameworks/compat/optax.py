"""optax's schedules, as lrlab schedules.

Each function takes the optax factory's arguments and returns a core
schedule ``s`` with ``s(t) == schedule(t)``: optax calls its schedule with the
update count, which is 0 at the first update, as lrlab counts.

>>> from lrlab.compat import optax as O
>>> O.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=10, decay_steps=50)
lrlab.warmup(lrlab.cosine(0.1, steps=40), steps=10)
>>> O.exponential_decay(0.1, transition_steps=10, decay_rate=0.5, transition_begin=15, staircase=True)
lrlab.join([lrlab.constant(0.1), lrlab.exponential(0.1, rate=0.5, every=10, staircase=True)], boundaries=[15])

Where optax quietly turns a bad argument into a constant schedule (a
non-positive ``transition_steps``, a zero ``decay_rate``, a negative
``transition_begin``), these raise ``ValueError`` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lrlab.frameworks.compat._common import check, check_flag, join_checked, joined, rate, refuse, warmed
from lrlab.schedules import (
    Clipped,
    Constant,
    Cosine,
    Exponential,
    Linear,
    PiecewiseConstant,
    Poly,
    Schedule,
    Warmup,
)
from lrlab.schedules.base import choice

__all__ = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
    "cosine_decay_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "sgdr_schedule",
    "join_schedules",
]


def constant_schedule(value: float) -> Schedule:
    """``value`` at every step: `constant`."""
    return Constant(rate("optax.constant_schedule", "value", value))


def _held(value: float, begin: float, after: Schedule) -> Schedule:
    """``value`` up to ``begin``, then ``after`` on its own clock (optax's ``transition_begin``)."""
    return joined([Constant(value), after], [begin])


def _transition(where: str, transition_steps: Any, transition_begin: Any) -> tuple[Any, Any]:
    steps = check(where, "transition_steps", transition_steps, low=0, low_open=True)
    begin = check(where, "transition_begin", transition_begin, low=0)
    return steps, begin


def polynomial_schedule(
    init_value: float, end_value: float, power: float, transition_steps: float, transition_begin: float = 0
) -> Schedule:
    """``init_value`` until ``transition_begin``, then `poly` to ``end_value`` over ``transition_steps``."""
    where = "optax.polynomial_schedule"
    init = rate(where, "init_value", init_value)
    end = rate(where, "end_value", end_value)
    p = check(where, "power", power, low=0, low_open=True)
    steps, begin = _transition(where, transition_steps, transition_begin)
    return _held(init, begin, Poly(init, steps=steps, power=p, final_lr=end))


def linear_schedule(
    init_value: float, end_value: float, transition_steps: float, transition_begin: float = 0
) -> Schedule:
    """``init_value`` until ``transition_begin``, then `linear` to ``end_value`` over ``transition_steps``."""
    where = "optax.linear_schedule"
    init = rate(where, "init_value", init_value)
    end = rate(where, "end_value", end_value)
    steps, begin = _transition(where, transition_steps, transition_begin)
    return _held(init, begin, Linear(init, end, steps=steps))


def exponential_decay(
    init_value: float,
    transition_steps: float,
    decay_rate: float,
    transition_begin: float = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """``init_value`` up to and including ``transition_begin``, then `exponential`.

    ``init_value * decay_rate ** ((t - transition_begin) / transition_steps)``
    (floored when staircase, so the first drop is at ``transition_begin +
    transition_steps``). ``end_value`` bounds every value, the held ones too:
    from below when ``decay_rate < 1``, from above otherwise.
    """
    where = "optax.exponential_decay"
    init = rate(where, "init_value", init_value)
    steps, begin = _transition(where, transition_steps, transition_begin)
    r = check(where, "decay_rate", decay_rate, low=0, low_open=True)
    stairs = check_flag(where, "staircase", staircase)
    if end_value is None:
        return _held(init, begin, Exponential(init, rate=r, every=steps, staircase=stairs))
    end = rate(where, "end_value", end_value)
    if r < 1:
        decay: Schedule = Exponential(init, rate=r, every=steps, staircase=stairs, min_lr=end)
        return _held(max(init, end), begin, decay)
    decay = Clipped(Exponential(init, rate=r, every=steps, staircase=stairs), max_lr=end)
    return _held(min(init, end), begin, decay)


def cosine_decay_schedule(init_value: float, decay_steps: float, alpha: float = 0.0, exponent: float = 1.0) -> Schedule:
    """Cosine from ``init_value`` to ``alpha * init_value`` over ``decay_steps``, then held: `cosine`."""
    where = "optax.cosine_decay_schedule"
    init = rate(where, "init_value", init_value)
    steps = check(where, "decay_steps", decay_steps, low=0, low_open=True)
    a = check(where, "alpha", alpha, low=0)
    e = check(where, "exponent", exponent, low=0, low_open=True)
    return Cosine(init, steps=steps, final_lr=init * a, exponent=e)


def _boundaries_and_scales(where: str, value: Any) -> tuple[list[Any], list[Any]]:
    """Sorted boundaries and their scales, as optax sorts them."""
    if value is None:
        return [], []
    if not isinstance(value, Mapping):
        raise refuse(where, "boundaries_and_scales", value, "a dict {boundary: scale}")
    items = sorted(value.items())
    bounds = [check(where, "boundaries_and_scales", b, low=0) for b, _ in items]
    scales = [check(where, f"boundaries_and_scales[{b!r}]", s, low=0) for b, s in items]
    return bounds, scales


def _running_products(init: float, scales: Sequence[float]) -> list[float]:
    values = [init]
    for s in scales:
        values.append(values[-1] * s)
    return values


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """``init_value`` times every scale whose boundary ``<= t``: `piecewise_constant`."""
    where = "optax.piecewise_constant_schedule"
    init = rate(where, "init_value", init_value)
    bounds, scales = _boundaries_and_scales(where, boundaries_and_scales)
    if not bounds:
        return Constant(init)
    return PiecewiseConstant(tuple(bounds), tuple(_running_products(init, scales)))


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: float, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    """Interpolate between the running products of the scales, from t = 0: a `join`.

    The knots are ``(0, init_value)`` and ``(boundary_k, init_value * scale_0 *
    ... * scale_k)``; between knots the rate follows a `linear` or `cosine`
    piece, and after the last it holds. optax interpolates from t = 0 to the
    first boundary too: it does not hold ``init_value`` until then.
    """
    where = "optax.piecewise_interpolate_schedule"
    kind = choice(where, "interpolate_type", interpolate_type, ("linear", "cosine"))
    init = rate(where, "init_value", init_value)
    bounds, scales = _boundaries_and_scales(where, boundaries_and_scales)
    values = _running_products(init, scales)
    if not bounds:
        return Constant(init)
    pieces: list[Schedule] = []
    for k, end in enumerate(bounds):
        start = bounds[k - 1] if k else 0
        size = max(end - start, 1)  # optax's interval size
        if kind == "linear":
            pieces.append(Linear(values[k], values[k + 1], steps=size))
        else:
            pieces.append(Cosine(values[k], steps=size, final_lr=values[k + 1]))
    pieces.append(Constant(values[-1]))
    return joined(pieces, bounds)


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """Three `linear` phases: up to ``peak_value``, back down, then to the final value.

    The phase ends are ``int(pct_start * transition_steps)``,
    ``int(pct_final * transition_steps)`` and ``transition_steps``, as optax
    builds them through `piecewise_interpolate_schedule`.
    """
    where = "optax.linear_onecycle_schedule"
    steps = check(where, "transition_steps", transition_steps, low=0, low_open=True)
    peak = rate(where, "peak_value", peak_value)
    div = check(where, "div_factor", div_factor, low=0, low_open=True)
    final_div = check(where, "final_div_factor", final_div_factor, low=0, low_open=True)
    a = check(where, "pct_start", pct_start, low=0, high=1)
    b = check(where, "pct_final", pct_final, low=0, high=1)
    knots = {int(a * steps): div, int(b * steps): 1.0 / div, steps: 1.0 / final_div}
    return piecewise_interpolate_schedule("linear", peak / div, knots)


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """Two `cosine` phases: up to ``peak_value`` at ``int(pct_start * transition_steps)``, then down.

    The final value ``peak_value / (div_factor * final_div_factor)`` is
    reached at ``transition_steps`` (torch's ``OneCycleLR`` reaches it one step
    earlier and peaks one step earlier).
    """
    where = "optax.cosine_onecycle_schedule"
    steps = check(where, "transition_steps", transition_steps, low=0, low_open=True)
    peak = rate(where, "peak_value", peak_value)
    div = check(where, "div_factor", div_factor, low=0, low_open=True)
    final_div = check(where, "final_div_factor", final_div_factor, low=0, low_open=True)
    a = check(where, "pct_start", pct_start, low=0, high=1)
    knots = {int(a * steps): div, int(steps): 1.0 / (div * final_div)}
    return piecewise_interpolate_schedule("cosine", peak / div, knots)


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: float) -> Schedule:
    """Linear from ``init_value`` to ``peak_value`` over ``warmup_steps``, then held: `warmup` of `constant`."""
    where = "optax.warmup_constant_schedule"
    init = rate(where, "init_value", init_value)
    peak = rate(where, "peak_value", peak_value)
    steps = check(where, "warmup_steps", warmup_steps, low=0, low_open=True)
    return Warmup(Constant(peak), steps=steps, start_lr=init)


def warmup_cosine_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: float,
    decay_steps: float,
    end_value: float = 0.0,
    exponent: float = 1.0,
) -> Schedule:
    """Linear warmup, then a cosine to ``end_value``: `warmup` around `cosine`.

    optax's ``decay_steps`` *includes* the warmup: the cosine runs over
    ``decay_steps - warmup_steps`` steps (Keras ``CosineDecay`` counts them
    after the warmup instead).
    """
    where = "optax.warmup_cosine_decay_schedule"
    init = rate(where, "init_value", init_value)
    peak = rate(where, "peak_value", peak_value)
    warm = check(where, "warmup_steps", warmup_steps, low=0)
    total = check(where, "decay_steps", decay_steps, low=warm, low_open=True)
    end = rate(where, "end_value", end_value)
    e = check(where, "exponent", exponent, low=0, low_open=True)
    # optax decays to peak * (end / peak), i.e. to 0 when peak is 0
    decay = Cosine(peak, steps=total - warm, final_lr=end if peak != 0 else 0.0, exponent=e)
    return warmed(decay, warm, init)


def warmup_exponential_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: float,
    transition_steps: float,
    decay_rate: float,
    transition_begin: float = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """Linear warmup to ``peak_value``, then `exponential_decay` from it on its own clock.

    ``transition_begin`` counts from the end of the warmup.
    """
    where = "optax.warmup_exponential_decay_schedule"
    init = rate(where, "init_value", init_value)
    peak = rate(where, "peak_value", peak_value)
    warm = check(where, "warmup_steps", warmup_steps, low=0)
    decay = exponential_decay(peak, transition_steps, decay_rate, transition_begin, staircase, end_value)
    if warm == 0:
        return decay
    if decay(0) == peak:
        return Warmup(decay, steps=warm, start_lr=init)
    # end_value clips the start of the decay: optax still warms up to peak_value, then jumps
    return joined([Linear(init, peak, steps=warm), decay], [warm])


def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]]) -> Schedule:
    """Warm restarts: `warmup_cosine_decay_schedule` cycles, each ``decay_steps`` long, in a `join`."""
    where = "optax.sgdr_schedule"
    if isinstance(cosine_kwargs, Mapping | str | bytes) or not isinstance(cosine_kwargs, Iterable):
        raise refuse(where, "cosine_kwargs", cosine_kwargs, "a list of dicts of warmup_cosine_decay_schedule arguments")
    items = list(cosine_kwargs)
    if not items:
        raise refuse(where, "cosine_kwargs", items, "a non-empty list of dicts")
    pieces: list[Schedule] = []
    boundaries: list[Any] = []
    step: Any = 0
    for i, kwargs in enumerate(items):
        if not isinstance(kwargs, Mapping) or "decay_steps" not in kwargs:
            raise refuse(where, f"cosine_kwargs[{i}]", kwargs, "a dict with decay_steps")
        try:
            pieces.append(warmup_cosine_decay_schedule(**kwargs))
        except TypeError as exc:
            raise refuse(
                where, f"cosine_kwargs[{i}]", dict(kwargs), f"warmup_cosine_decay_schedule arguments ({exc})"
            ) from None
        step = step + kwargs["decay_steps"]
        boundaries.append(step)
    return joined(pieces, boundaries[:-1])


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[float]) -> Schedule:
    """``schedules[k]`` from ``boundaries[k-1]`` on, fed ``t - boundaries[k-1]``: `join`."""
    return join_checked("optax.join_schedules", ("schedules", schedules), ("boundaries", boundaries))
