"""Hypothesis strategies that build valid schedules of every registered family.

`STRATEGIES` maps each registry name to a strategy of valid instances with
moderate parameters, one entry per family, written once: a family added to
the registry brings its entry here (``tests/test_registry.py`` fails until it
does). `any_schedule` nests the combinators around the other families.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import lrlab

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
        ),
        "join": _join(inner),
        "scaled": st.builds(lrlab.scaled, inner, by=st.floats(0.0, 3.0)),
        "clipped": st.builds(lrlab.clipped, inner, min_lr=small_rates, max_lr=st.none() | st.floats(0.05, 3.0)),
        "skip": st.builds(lrlab.skip, inner, steps=offsets),
        "lifted": st.builds(lrlab.lifted, inner, by=small_rates),
    }


_shape: Strategy = st.one_of(*_SHAPES.values())

#: one strategy per registered family, by its spec name
STRATEGIES: dict[str, Strategy] = {**_SHAPES, **_combinators(_shape)}

#: any schedule, nested up to a few levels deep
any_schedule: Strategy = st.recursive(_shape, lambda inner: st.one_of(*_combinators(inner).values()), max_leaves=4)
