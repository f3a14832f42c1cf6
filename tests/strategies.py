"""Hypothesis strategies that build valid schedules of every registered family.

`STRATEGIES` maps each registry name to a strategy of valid instances with
moderate parameters, one entry per family, written once: a family added to
the registry brings its entry here (``tests/test_registry.py`` fails until it
does). `any_schedule` nests the combinators around the other families.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

import lrlab
from lrlab.schedules.base import _REQUIREMENT, LARGEST

Strategy = st.SearchStrategy[lrlab.Schedule]

rates = st.floats(min_value=1e-4, max_value=2.0, allow_nan=False)
small_rates = st.floats(min_value=0.0, max_value=0.05, allow_nan=False)
horizons = st.one_of(st.integers(min_value=1, max_value=500), st.floats(min_value=0.5, max_value=500.0))
offsets = st.one_of(st.integers(min_value=0, max_value=200), st.floats(min_value=0.0, max_value=200.0))
decays = st.floats(min_value=0.05, max_value=1.0)
powers = st.floats(min_value=0.1, max_value=4.0)


@st.composite
def _increasing(draw: Any, n_min: int = 0, n_max: int = 4, low: int = 1) -> list[int]:
    values = draw(st.lists(st.integers(min_value=low, max_value=300), min_size=n_min, max_size=n_max, unique=True))
    return sorted(values)


@st.composite
def _piecewise(draw: Any) -> lrlab.Schedule:
    bounds = draw(_increasing(0, 4, low=0))
    values = draw(st.lists(rates, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    return lrlab.piecewise_constant(bounds, values)


@st.composite
def _cyclic(draw: Any) -> lrlab.Schedule:
    base = draw(small_rates)
    return lrlab.cyclic(
        base,
        max_lr=base + draw(rates),
        step_size=draw(horizons),
        mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
        gamma=draw(st.floats(min_value=0.9, max_value=1.0)),
        step_size_down=draw(st.none() | horizons),
    )


@st.composite
def _wsd(draw: Any) -> lrlab.Schedule:
    steps = draw(st.integers(min_value=1, max_value=500))
    warm = draw(st.integers(min_value=0, max_value=steps))
    decay = draw(st.integers(min_value=0, max_value=steps - warm))
    return lrlab.wsd(
        draw(rates),
        steps=steps,
        warmup_steps=warm,
        decay_steps=decay,
        final_lr=draw(small_rates),
        decay=draw(st.sampled_from(["linear", "cosine", "sqrt"])),
    )


@st.composite
def _join(draw: Any, inner: Strategy) -> lrlab.Schedule:
    pieces = draw(st.lists(inner, min_size=1, max_size=3))
    bounds = draw(_increasing(len(pieces) - 1, len(pieces) - 1))
    return lrlab.join(pieces, boundaries=bounds)


_SHAPES: dict[str, Strategy] = {
    "constant": st.builds(lrlab.constant, rates),
    "square_root": st.builds(lrlab.square_root, rates),
    "inverse_power": st.builds(lrlab.inverse_power, rates, power=powers, offset=st.floats(0.1, 10.0)),
    "factor": st.builds(lrlab.factor, rates, factor=decays, every=horizons, min_lr=small_rates),
    "multi_factor": st.builds(lrlab.multi_factor, rates, milestones=_increasing(0, 4), factor=decays),
    "piecewise_constant": _piecewise(),
    "exponential": st.builds(
        lrlab.exponential, rates, rate=decays, every=horizons, staircase=st.booleans(), min_lr=small_rates
    ),
    "poly": st.builds(lrlab.poly, rates, steps=horizons, power=powers, final_lr=small_rates),
    "linear": st.builds(lrlab.linear, rates, end_lr=rates, steps=horizons),
    "cosine": st.builds(lrlab.cosine, rates, steps=horizons, final_lr=small_rates, exponent=powers),
    "cosine_restarts": st.builds(
        lrlab.cosine_restarts,
        rates,
        period=horizons,
        period_mult=st.floats(1.0, 3.0),
        final_lr=small_rates,
        decay=decays,
    ),
    "cyclic": _cyclic(),
    "one_cycle": st.builds(
        lrlab.one_cycle,
        rates,
        steps=horizons,
        pct_start=st.floats(0.05, 0.95),
        div_factor=st.floats(1.0, 100.0),
        final_div_factor=st.floats(1.0, 1e4),
        anneal=st.sampled_from(["cos", "linear"]),
    ),
    "wsd": _wsd(),
    "inverse_time": st.builds(
        lrlab.inverse_time, rates, rate=st.floats(0.0, 5.0), every=horizons, staircase=st.booleans()
    ),
    "cosine_wave": st.builds(lrlab.cosine_wave, rates, steps=horizons, final_lr=small_rates),
    "poly_cycle": st.builds(lrlab.poly_cycle, rates, steps=horizons, power=powers, final_lr=small_rates),
    "tanh": st.builds(
        lrlab.tanh,
        rates,
        steps=horizons,
        final_lr=small_rates,
        lower=st.floats(-10.0, -1.0),
        upper=st.floats(0.0, 10.0),
    ),
}


def _combinators(inner: Strategy) -> dict[str, Strategy]:
    """The families made of schedules, around schedules drawn from `inner`."""
    return {
        "warmup": st.builds(
            lrlab.warmup,
            inner,
            steps=st.integers(0, 50),
            start_lr=small_rates,
            mode=st.sampled_from(["linear", "constant"]),
            shift=st.booleans(),
        ),
        "join": _join(inner),
        "scaled": st.builds(lrlab.scaled, inner, by=st.floats(0.0, 3.0)),
        "clipped": st.builds(lrlab.clipped, inner, min_lr=small_rates, max_lr=st.none() | st.floats(0.05, 3.0)),
        "skip": st.builds(lrlab.skip, inner, steps=offsets),
        "lifted": st.builds(lrlab.lifted, inner, by=small_rates),
        "product": st.builds(lrlab.product, st.lists(inner, min_size=1, max_size=3)),
        "stretch": st.builds(lrlab.stretch, inner, ratio=st.floats(0.1, 10.0), keep_warmup=st.booleans()),
        "cycles": st.builds(
            lrlab.cycles,
            inner.filter(_cycle_length),
            mult=st.floats(1.0, 3.0),
            decay=decays,
            limit=st.none() | st.integers(1, 6),
            peak=st.none() | rates,
        ),
        "noisy": _noisy(inner),
    }


def _cycle_length(s: lrlab.Schedule) -> bool:
    """Whether `s` can be cycled: a finite horizon > 0."""
    end = s.horizon()
    return end is not None and end > 0


@st.composite
def _noisy(draw: Any, inner: Strategy) -> lrlab.Schedule:
    start = draw(offsets)
    end = draw(st.none() | st.floats(0.5, 300.0).map(lambda d: start + d))
    return lrlab.noisy(
        draw(inner),
        start=start,
        end=end,
        pct=draw(st.floats(0.01, 1.0)),
        std=draw(st.floats(0.05, 3.0)),
        kind=draw(st.sampled_from(["normal", "uniform"])),
        seed=draw(st.integers(0, 2**32)),
    )


@st.composite
def _wsd_decay_schedule(draw: Any) -> lrlab.Schedule:
    steps = draw(st.integers(min_value=2, max_value=500))
    warm = draw(st.integers(min_value=0, max_value=steps - 1))
    decay = draw(st.integers(min_value=1, max_value=steps - warm))
    base = draw(rates)
    part = draw(
        st.sampled_from([lrlab.cosine(base, steps=decay), lrlab.linear(base, 0.0, steps=decay)])
        | st.builds(lrlab.tanh, st.just(base), steps=st.integers(1, decay), final_lr=small_rates)
    )
    return lrlab.wsd(base, steps=steps, warmup_steps=warm, decay_steps=decay, decay=part)


#: the options added to existing families for the peers (issue 13): a strategy each, by ``family:option``;
#: kept out of `STRATEGIES` so that the formula tests of those families stay about the plain formula
OPTIONS: dict[str, Strategy] = {
    "cosine:k_decay": st.builds(
        lrlab.cosine, rates, steps=horizons, final_lr=small_rates, exponent=powers, k_decay=powers
    ),
    "poly:k_decay": st.builds(lrlab.poly, rates, steps=horizons, power=powers, final_lr=small_rates, k_decay=powers),
    "poly_cycle:k_decay": st.builds(
        lrlab.poly_cycle, rates, steps=horizons, power=powers, final_lr=small_rates, k_decay=powers
    ),
    "inverse_power:timescale": st.builds(
        lrlab.inverse_power, rates, power=powers, offset=st.floats(0.1, 10.0), timescale=st.floats(0.1, 1e4)
    ),
    "wsd:1-sqrt": st.builds(
        lambda s: lrlab.wsd(s.base_lr, s.steps, s.warmup_steps, s.decay_steps, s.final_lr, decay="1-sqrt"), _wsd()
    ),
    "wsd:schedule": _wsd_decay_schedule(),
}

_shape: Strategy = st.one_of(*_SHAPES.values(), *OPTIONS.values())

#: one strategy per registered family, by its spec name
STRATEGIES: dict[str, Strategy] = {**_SHAPES, **_combinators(_shape)}

#: any schedule, nested up to a few levels deep
any_schedule: Strategy = st.recursive(_shape, lambda inner: st.one_of(*_combinators(inner).values()), max_leaves=4)


# -- extreme arguments (tests/test_extremes.py) ---------------------------------------------------

#: the smallest normal float64 (`LARGEST` is the largest)
TINY = float(np.finfo(np.float64).tiny)

#: numbers at the edges of what a float holds, and the ordinary ones beside them (10**300 is an int)
EXTREME_NUMBERS: tuple[float | int, ...] = (
    0, 0.0, 5e-324, TINY, 1e-300, 1e-10, 0.5, math.nextafter(1.0, 0.0), 1, 1.0, math.nextafter(1.0, 2.0),
    2.0, 10, 1e6, 2.0**53, 1e15, 1e300, 10**300, 1e308, LARGEST,
)  # fmt: skip


def _edge_numbers(need: Any) -> st.SearchStrategy[float | int]:
    """An extreme number, a value at or beside one of the argument's own bounds, or any float."""
    edges: list[float | int] = list(EXTREME_NUMBERS)
    for bound in (need.low, need.high):
        if bound is not None and math.isfinite(bound):
            edges += [bound, math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf)]
    if need.low is None or need.low < 0:
        edges += [-1.0, -LARGEST]
    return st.one_of(st.sampled_from(edges), st.floats(min_value=0.0, max_value=LARGEST))


def _combinator(cls: type[lrlab.Schedule]) -> bool:
    return any(_requirement(f).kind in ("schedule", "schedules") for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _requirement(field: dataclasses.Field[Any]) -> Any:
    return field.metadata[_REQUIREMENT]


@st.composite
def extreme_kwargs(draw: Any, cls: type[lrlab.Schedule], inner: Strategy | None = None) -> dict[str, Any]:
    """Arguments for `cls` read from its declared fields: each an extreme number, a bound, a
    listed choice or a schedule from `inner`; an argument with a default is sometimes left out.

    Lists share one drawn length ``n`` (``n`` or ``n + 1`` items, ``n + 1`` schedules) so that the
    families whose lists go together (a join's boundaries, a piecewise constant's values) are
    often built, not only refused.
    """
    n = draw(st.integers(0, 3))
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        need = _requirement(field)
        if field.default is not dataclasses.MISSING and draw(st.booleans()):
            continue
        if need.kind == "number":
            value: Any = draw(_edge_numbers(need) | st.none()) if need.optional else draw(_edge_numbers(need))
        elif need.kind == "numbers":
            items = draw(st.lists(_edge_numbers(need), min_size=n, max_size=n + 1))
            value = sorted(set(items)) if need.order == "increasing" else sorted(items) if need.order else items
        elif need.kind == "choice":
            value = draw(st.sampled_from(need.choices))
        elif need.kind == "flag":
            value = draw(st.booleans())
        elif need.kind == "schedule":
            value = draw(inner if inner is not None else _shape)
        else:
            value = draw(st.lists(inner if inner is not None else _shape, min_size=n + 1, max_size=n + 1))
        kwargs[field.name] = value
    return kwargs


@st.composite
def extreme_shape(draw: Any) -> lrlab.Schedule:
    """A valid schedule of a family that is not made of schedules, built with extreme arguments where
    they are accepted (else a moderate one)."""
    name = draw(st.sampled_from(sorted(k for k, c in lrlab.REGISTRY.items() if not _combinator(c))))
    try:
        return lrlab.REGISTRY[name](**draw(extreme_kwargs(lrlab.REGISTRY[name])))
    except lrlab.LrlabError:
        return draw(STRATEGIES[name])
