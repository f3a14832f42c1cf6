"""Properties that hold for every registered schedule family (hypothesis)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrlab
from strategies import STRATEGIES, any_schedule

steps_arrays = st.lists(
    st.one_of(st.integers(0, 3000), st.floats(0.0, 3000.0, allow_nan=False)), min_size=1, max_size=40
).map(lambda xs: np.asarray(xs, dtype=np.float64))

families = sorted(lrlab.REGISTRY)
relaxed = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_registered_family_has_a_strategy() -> None:
    assert sorted(STRATEGIES) == families


@pytest.mark.parametrize("family", families)
@relaxed
@given(data=st.data())
def test_rates_are_finite_and_non_negative(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    t = data.draw(steps_arrays)
    rates = s(t)
    assert rates.dtype == np.float64 and rates.shape == t.shape
    assert np.all(np.isfinite(rates)) and np.all(rates >= 0)


@pytest.mark.parametrize("family", families)
@relaxed
@given(data=st.data())
def test_scalar_and_array_agree_and_calls_are_pure(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    t = data.draw(steps_arrays)
    before = (str(s), hash(s))
    given_steps = t.copy()
    first = s(t)
    np.testing.assert_array_equal(t, given_steps)  # the caller's steps are never written into
    assert not np.shares_memory(first, t)
    first_copy = first.copy()
    first[...] = -1.0  # a result is the caller's own: writing into it changes no later call
    scalars = [s(float(x)) for x in t]
    assert all(type(v) is float for v in scalars)
    np.testing.assert_array_equal(first_copy, np.asarray(scalars))
    np.testing.assert_array_equal(s(t), first_copy)
    assert (str(s), hash(s)) == before
    grid = t.reshape(1, -1, 1)
    np.testing.assert_array_equal(s(grid), first_copy.reshape(1, -1, 1))


@pytest.mark.parametrize("family", families)
@relaxed
@given(data=st.data())
def test_text_and_dict_forms_round_trip(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    assert lrlab.parse(str(s)) == s
    as_json = json.loads(json.dumps(s.to_dict()))
    assert lrlab.from_dict(as_json) == s
    assert lrlab.parse(str(s)).__class__ is s.__class__


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=any_schedule, t=steps_arrays)
def test_nested_schedules_round_trip_and_stay_finite(s: lrlab.Schedule, t: np.ndarray) -> None:
    assert lrlab.parse(str(s)) == s
    assert lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    rates = s(t)
    assert np.all(np.isfinite(rates)) and np.all(rates >= 0)


def _nonincreasing(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values) <= 1e-12 * np.abs(values[:-1]) + 1e-300))


def _nondecreasing(values: np.ndarray) -> bool:
    return bool(np.all(np.diff(values) >= -1e-12 * np.abs(values[:-1]) - 1e-300))


@pytest.mark.parametrize("family", ["square_root", "inverse_power", "factor"])
@relaxed
@given(data=st.data())
def test_decays_fall_from_their_start(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    rates = s(np.sort(data.draw(steps_arrays)))
    assert _nonincreasing(rates)
    assert np.all(rates <= s(0) * (1 + 1e-12))


@pytest.mark.parametrize("family", ["poly", "cosine"])
@relaxed
@given(data=st.data())
def test_horizon_decays_move_monotonically_from_base_to_final(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    rates = s(np.sort(data.draw(steps_arrays)))
    low, high = sorted((s.base_lr, s.final_lr))
    assert _nonincreasing(rates) if s.final_lr <= s.base_lr else _nondecreasing(rates)
    assert np.all(rates >= low * (1 - 1e-12)) and np.all(rates <= high * (1 + 1e-12))


@relaxed
@given(s=STRATEGIES["multi_factor"], t=steps_arrays)
def test_multi_factor_is_monotone_in_the_direction_of_its_factor(s: lrlab.MultiFactor, t: np.ndarray) -> None:
    rates = s(np.sort(t))
    assert _nonincreasing(rates) if s.factor <= 1 else _nondecreasing(rates)


@relaxed
@given(s=STRATEGIES["exponential"], t=steps_arrays)
def test_exponential_decay_stays_between_floor_and_start(s: lrlab.Exponential, t: np.ndarray) -> None:
    rates = s(np.sort(t))
    assert _nonincreasing(rates)
    assert np.all(rates >= s.min_lr) and np.all(rates <= max(s.base_lr, s.min_lr))


@relaxed
@given(s=STRATEGIES["poly"] | STRATEGIES["cosine"])
def test_horizon_families_end_exactly_at_final_lr_and_hold(s: lrlab.Poly | lrlab.Cosine) -> None:
    assert s(s.steps) == pytest.approx(s.final_lr, rel=1e-12, abs=1e-300)
    assert s(s.steps * 3 + 7) == s(s.steps)


@relaxed
@given(s=STRATEGIES["linear"], t=steps_arrays)
def test_linear_stays_between_its_ends(s: lrlab.Linear, t: np.ndarray) -> None:
    rates = s(np.sort(t))
    low, high = sorted((s.start_lr, s.end_lr))
    assert np.all(rates >= low * (1 - 1e-12)) and np.all(rates <= high * (1 + 1e-12))
    assert _nonincreasing(rates) if s.end_lr <= s.start_lr else _nondecreasing(rates)


@relaxed
@given(s=STRATEGIES["cyclic"], t=steps_arrays)
def test_cyclic_stays_in_its_band(s: lrlab.Cyclic, t: np.ndarray) -> None:
    rates = s(t)
    assert np.all(rates >= s.base_lr * (1 - 1e-12)) and np.all(rates <= s.max_lr * (1 + 1e-12))


@relaxed
@given(s=STRATEGIES["one_cycle"], t=steps_arrays)
def test_one_cycle_rises_to_max_lr_then_falls(s: lrlab.OneCycle, t: np.ndarray) -> None:
    peak_at = s.pct_start * s.steps
    up = np.sort(t[t <= peak_at])
    down = np.sort(t[t >= peak_at])
    assert _nondecreasing(s(up)) and _nonincreasing(s(down))
    assert s(peak_at) == pytest.approx(s.max_lr, rel=1e-12)
    assert s(0) == pytest.approx(s.max_lr / s.div_factor, rel=1e-12)
    assert s(s.steps) == pytest.approx(s.max_lr / s.div_factor / s.final_div_factor, rel=1e-9)


@relaxed
@given(s=STRATEGIES["cosine_restarts"], t=steps_arrays)
def test_restarts_stay_below_the_first_peak_and_restart_on_time(s: lrlab.CosineRestarts, t: np.ndarray) -> None:
    rates = s(t)
    assert np.all(rates <= max(s.base_lr, s.final_lr) * (1 + 1e-12))
    second = s.period * s.period_mult
    start_of_third = s.period + second
    assert s(s.period) == pytest.approx(s.final_lr + (s.base_lr * s.decay - s.final_lr), rel=1e-9)
    assert s(start_of_third) == pytest.approx(s.final_lr + (s.base_lr * s.decay**2 - s.final_lr), rel=1e-9)


@relaxed
@given(s=STRATEGIES["wsd"], t=steps_arrays)
def test_wsd_never_exceeds_base_lr_and_holds_in_the_middle(s: lrlab.WSD, t: np.ndarray) -> None:
    rates = s(t)
    assert np.all(rates <= max(s.base_lr, s.final_lr) * (1 + 1e-12))
    middle = (s.warmup_steps + s.steps - s.decay_steps) / 2
    if s.warmup_steps < middle < s.steps - s.decay_steps:
        assert s(middle) == s.base_lr


@relaxed
@given(inner=any_schedule, steps=st.integers(1, 100), start=st.floats(0.0, 0.1))
def test_linear_warmup_is_continuous_where_it_hands_over(inner: lrlab.Schedule, steps: int, start: float) -> None:
    s = lrlab.warmup(inner, steps=steps, start_lr=start)
    assert s(0) == start
    assert s(steps) == inner(0)
    just_before = s(steps - 1e-9)
    assert just_before == pytest.approx(inner(0), rel=1e-6, abs=1e-9)
    assert s(steps + 12.5) == inner(12.5)


@relaxed
@given(
    pieces=st.lists(any_schedule, min_size=1, max_size=4),
    gaps=st.lists(st.integers(1, 50), min_size=3, max_size=3),
    t=steps_arrays,
)
def test_join_restarts_each_piece_clock(pieces: list[lrlab.Schedule], gaps: list[int], t: np.ndarray) -> None:
    bounds = list(np.cumsum(gaps[: len(pieces) - 1]).tolist())
    s = lrlab.join(pieces, boundaries=bounds)
    starts = [0, *bounds]
    for x in t:
        k = sum(1 for b in bounds if b <= x)
        assert s(float(x)) == pieces[k](float(x) - starts[k])


@relaxed
@given(peak=st.floats(0.01, 1.0), warm=st.integers(1, 30), decay=st.integers(1, 100))
def test_join_of_matching_pieces_is_continuous(peak: float, warm: int, decay: int) -> None:
    s = lrlab.join([lrlab.linear(0.0, peak, steps=warm), lrlab.cosine(peak, steps=decay)], boundaries=[warm])
    assert s(warm - 1e-9) == pytest.approx(s(warm), rel=1e-6)


@relaxed
@given(inner=any_schedule, by=st.floats(0.0, 5.0), low=st.floats(0.0, 0.1), t=steps_arrays)
def test_scaled_and_clipped_transform_pointwise(inner: lrlab.Schedule, by: float, low: float, t: np.ndarray) -> None:
    base = inner(t)
    np.testing.assert_array_equal(lrlab.scaled(inner, by=by)(t), by * base)
    high = low + 0.05
    np.testing.assert_array_equal(lrlab.clipped(inner, min_lr=low, max_lr=high)(t), np.clip(base, low, high))


@pytest.mark.parametrize("family", families)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_a_million_steps_evaluate_in_one_vectorised_call(family: str, data: st.DataObject) -> None:
    # Smoke check of the array path at scale; its speed is measured in benchmarks/.
    s = data.draw(STRATEGIES[family])
    t = np.arange(1_000_000)
    rates = s(t)
    assert rates.shape == t.shape and math.isfinite(float(rates[-1]))
    assert rates[123_456] == s(123_456)
