"""Hypothesis strategies for the families in ``lrlab.schedules.extra``.

`EXTRA_STRATEGIES` maps each registry name to a strategy of valid instances
with moderate parameters; ``tests/strategies.py`` merges it into `STRATEGIES`.
This module does not import ``strategies`` (which imports it), so it builds
its own small inner schedules for the combinators.
"""

from __future__ import annotations

from hypothesis import strategies as st

import lrlab

rates = st.floats(min_value=1e-4, max_value=2.0, allow_nan=False)
small_rates = st.floats(min_value=0.0, max_value=0.05, allow_nan=False)
horizons = st.one_of(st.integers(min_value=1, max_value=500), st.floats(min_value=0.5, max_value=500.0))
offsets = st.one_of(st.integers(min_value=0, max_value=200), st.floats(min_value=0.0, max_value=200.0))

_inner: st.SearchStrategy[lrlab.Schedule] = st.one_of(
    st.builds(lrlab.constant, rates),
    st.builds(lrlab.cosine, rates, steps=horizons, final_lr=small_rates),
    st.builds(lrlab.factor, rates, factor=st.floats(0.05, 1.0), every=horizons, min_lr=small_rates),
    st.builds(lrlab.linear, rates, end_lr=rates, steps=horizons),
    st.builds(
        lrlab.cosine_restarts, rates, period=horizons, period_mult=st.floats(1.0, 3.0), decay=st.floats(0.05, 1.0)
    ),
)

EXTRA_STRATEGIES: dict[str, st.SearchStrategy[lrlab.Schedule]] = {
    "inverse_time": st.builds(
        lrlab.inverse_time, rates, rate=st.floats(0.0, 5.0), every=horizons, staircase=st.booleans()
    ),
    "cosine_wave": st.builds(lrlab.cosine_wave, rates, steps=horizons, final_lr=small_rates),
    "poly_cycle": st.builds(lrlab.poly_cycle, rates, steps=horizons, power=st.floats(0.1, 4.0), final_lr=small_rates),
    "skip": st.builds(lrlab.skip, _inner, steps=offsets),
    "lifted": st.builds(lrlab.lifted, _inner, by=small_rates),
}
