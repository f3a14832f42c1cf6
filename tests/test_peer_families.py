"""The families and options that timm, HF transformers, composer and torch have (issue 13, part 3).

Numbers marked "timm 1.0.31" or "transformers 5.25.0" were printed by those libraries'
schedulers (timm's ``_get_lr(t)``, HF's ``lr_lambda(t) * lr``) for the arguments shown;
the others are hand computations written with `math`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.errors import ScheduleError
from strategies import OPTIONS, STRATEGIES

relaxed = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NEW = ["tanh", "product", "stretch", "cycles", "noisy"]
ALL = st.sampled_from([STRATEGIES[name] for name in NEW] + list(OPTIONS.values())).flatmap(lambda s: s)
steps = st.lists(st.floats(0.0, 3000.0), min_size=1, max_size=40)


def _close(got: list[float] | np.ndarray, want: list[float]) -> None:
    assert np.asarray(got) == pytest.approx(want, rel=1e-12, abs=1e-15)


# -- the peers' numbers ---------------------------------------------------------------


def test_timm_cosine_cycles_with_mult_and_decay() -> None:
    # timm 1.0.31 CosineLRScheduler(t_initial=25, lr_min=0.002, cycle_mul=1.2, cycle_decay=0.7, cycle_limit=10), lr 0.1;
    # at t=91 (25 + 30 + 36) timm's logarithm rounds down and the rate is the floor one step longer: kept
    s = lrlab.cycles(lrlab.cosine(0.1, steps=25, final_lr=0.002), mult=1.2, decay=0.7, limit=10)
    ts = [0, 10, 24, 25, 54, 55, 90, 91, 92]
    want = [0.1, 0.06614183272437243, 0.00238637963559059, 0.06999999999999999, 0.0021862555574787045,
            0.048999999999999995, 0.0020894245948439795, 0.002, 0.03425731420471423]  # fmt: skip
    _close(s(np.array(ts, dtype=float)), want)
    _close([s(t) for t in ts], want)


def test_timm_k_decay_and_warmup_without_prefix() -> None:
    # timm 1.0.31 CosineLRScheduler(t_initial=30, lr_min=0.01, k_decay=2.0, warmup_t=5, warmup_lr_init=0.001,
    # warmup_prefix=False, cycle_limit=2), lr 0.1: the warmup takes the place of the first 5 steps
    inner = lrlab.cycles(lrlab.cosine(0.1, steps=30, final_lr=0.01, k_decay=2.0), limit=2)
    s = lrlab.warmup(inner, steps=5, start_lr=0.001, shift=False)
    want = [0.001, 0.06040000000000001, 0.09982876141412855, 0.07897943242318285, 0.010950967505724175, 0.1,
            0.08681980515339464, 0.01, 0.01]  # fmt: skip
    _close(s(np.array([0, 3, 5, 17, 29, 30, 45, 60, 61], dtype=float)), want)
    assert s.horizon() == pytest.approx(60.0)


def test_timm_tanh_cycles() -> None:
    # timm 1.0.31 TanhLRScheduler(t_initial=50, lr_min=0.001, lb=-5, ub=4, cycle_limit=3, cycle_mul=1.5,
    # cycle_decay=0.8), lr 0.1; timm decays its lr (0.1), not the curve's start, hence peak=0.1
    s = lrlab.cycles(
        lrlab.tanh(0.1, steps=50, final_lr=0.001, lower=-5, upper=4), mult=1.5, decay=0.8, limit=3, peak=0.1
    )
    want = [0.09999550561099846, 0.094324906586012, 0.0010475791393498564, 0.07999641356837252,
            0.010417030839747293, 0.0010336757086466055, 0.06399713993427175, 0.0010228860297327397, 0.001]  # fmt: skip
    _close(s(np.array([0, 20, 49, 50, 100, 124, 125, 237, 238], dtype=float)), want)


def test_timm_poly_with_k_decay() -> None:
    # timm 1.0.31 PolyLRScheduler(t_initial=50, lr_min=0.001, power=2.0, k_decay=1.5, cycle_limit=2, cycle_decay=0.5)
    s = lrlab.cycles(lrlab.poly(0.1, steps=50, power=2.0, final_lr=0.001, k_decay=1.5), decay=0.5, limit=2)
    want = [0.1, 0.08308234161820167, 0.0010882082499872458, 0.05, 0.021476767721859177, 0.0010436586287815661, 0.001]
    _close(s(np.array([0, 10, 49, 50, 75, 99, 100], dtype=float)), want)


def test_hf_inverse_sqrt_with_timescale() -> None:
    # transformers 5.25.0 get_inverse_sqrt_schedule(num_warmup_steps=100, timescale=500), lr 0.1
    s = lrlab.warmup(lrlab.inverse_power(0.1, offset=500, timescale=500), steps=100)
    want = [0.0, 0.05, 0.1, 0.0999001497504367, 0.07071067811865475, 0.030429030972509225]
    _close(s(np.array([0, 50, 100, 101, 600, 5000], dtype=float)), want)


def test_hf_wsd_with_the_1_sqrt_decay_and_a_floor() -> None:
    # transformers 5.25.0 get_wsd_schedule(num_warmup_steps=10, num_stable_steps=50, num_decay_steps=40,
    # decay_type="1-sqrt", min_lr_ratio=0.1), lr 0.1
    main = lrlab.wsd(0.1, steps=90, warmup_steps=0, decay_steps=40, final_lr=0.01, decay="1-sqrt")
    s = lrlab.warmup(main, steps=10, start_lr=0.01)
    want = [0.010000000000000002, 0.05500000000000001, 0.1, 0.1, 0.1, 0.0857697505292423, 0.03636038969321072,
            0.011132120538408258, 0.010000000000000002, 0.010000000000000002]  # fmt: skip
    _close(s(np.array([0, 5, 10, 59, 60, 61, 80, 99, 100, 130], dtype=float)), want)
    assert main == lrlab.wsd(0.1, steps=90, warmup_steps=0, decay_steps=40, final_lr=0.01, decay="sqrt")
    assert str(main).endswith('decay="sqrt")')


# -- each family and option by hand --------------------------------------------------


def test_tanh_formula_and_its_step_down() -> None:
    s = lrlab.tanh(0.2, steps=40, final_lr=0.02)
    for t in [0.0, 7.5, 20.0, 39.0]:
        f = t / 40
        _close([s(t)], [0.02 + 0.5 * 0.18 * (1 - math.tanh(-7 * (1 - f) + 3 * f))])
    assert s(39.999) > 0.02 + 0.18 * 0.002  # still 0.25% of the range above the floor ...
    assert s(40) == s(1e6) == 0.02  # ... until the steps are done


def test_k_decay_bends_the_clock() -> None:
    c = lrlab.cosine(0.1, steps=100, final_lr=0.01, k_decay=2.0)
    p = lrlab.poly(0.1, steps=100, power=0.5, k_decay=3.0)
    _close([c(30)], [0.01 + 0.09 * (1 + math.cos(math.pi * 0.09)) / 2])
    _close([p(30)], [0.1 * (1 - 0.027) ** 0.5])
    assert c(30) > lrlab.cosine(0.1, steps=100, final_lr=0.01)(30)  # k > 1 keeps the rate up longer
    _close([lrlab.poly_cycle(0.1, steps=10, k_decay=2.0)(15)], [0.1 * (1 - (15 / 20) ** 2)])


def test_inverse_power_timescale_is_the_unit_of_the_clock() -> None:
    s = lrlab.inverse_power(0.3, power=0.5, offset=1000, timescale=1000)
    _close([s(0), s(3000)], [0.3, 0.15])
    assert lrlab.inverse_power(0.3, power=2.0, timescale=4)(3) == pytest.approx(0.3 * (4 / 4) ** -2.0)


def test_warmup_shift_keeps_or_moves_the_inner_clock() -> None:
    inner = lrlab.linear(0.1, 0.0, steps=20)
    shifted, global_ = lrlab.warmup(inner, steps=5), lrlab.warmup(inner, steps=5, shift=False)
    assert shifted(2) == global_(2) == pytest.approx(0.04)  # both ramp toward inner(0) = 0.1
    assert shifted(5) == pytest.approx(0.1) and global_(5) == pytest.approx(0.075)  # inner(0) vs inner(5)
    assert shifted.horizon() == 25 and global_.horizon() == 20
    assert global_(20) == global_(1e5) == 0.0


def test_product_multiplies_and_settles_last() -> None:
    a, b = lrlab.cosine(0.2, steps=30), lrlab.exponential(1.0, rate=0.5, every=10, min_lr=0.125)
    s = lrlab.product([a, b])
    t = np.linspace(0, 100, 41)
    assert np.array_equal(s(t), a(t) * b(t))
    assert s.horizon() == max(a.horizon() or 0, b.horizon() or 0) == 40
    assert lrlab.product([a, lrlab.square_root(0.1)]).horizon() is None


def test_stretch_scales_every_length() -> None:
    inner = lrlab.multi_factor(0.1, milestones=[10, 30], factor=0.1)
    s = lrlab.stretch(inner, ratio=2.5)
    assert s(24.9) == 0.1 and s(25) == pytest.approx(0.01) and s(75) == pytest.approx(0.001)
    assert s.horizon() == pytest.approx(75)
    warm = lrlab.warmup(lrlab.cosine(0.1, steps=20), steps=10)
    kept, all_ = lrlab.stretch(warm, ratio=2.0, keep_warmup=True), lrlab.stretch(warm, ratio=2.0)
    assert kept(5) == pytest.approx(0.05) and all_(5) == pytest.approx(0.025)
    assert kept(30) == pytest.approx(0.05) and all_(40) == pytest.approx(0.05)  # the cosine's middle
    assert kept.horizon() == pytest.approx(50) and all_.horizon() == pytest.approx(60)
    # no warmup on top: keep_warmup stretches everything
    assert lrlab.stretch(inner, ratio=2.5, keep_warmup=True)(25) == s(25)


def test_wsd_decay_schedule_runs_on_its_own_clock() -> None:
    part = lrlab.cosine(0.1, steps=20, final_lr=0.01)
    s = lrlab.wsd(0.1, steps=100, warmup_steps=10, decay_steps=20, decay=part)
    assert s(79) == 0.1 and s(80) == part(0) == 0.1  # continuous where the decay takes over
    assert s(90) == pytest.approx(part(10)) and s(100) == s(1e6) == 0.01
    short = lrlab.wsd(0.1, steps=100, warmup_steps=0, decay_steps=20, decay=lrlab.linear(0.1, 0.0, steps=10))
    assert short(90) == short(99) == 0.0  # a decay that ends early holds its end


def test_cycles_by_hand() -> None:
    s = lrlab.cycles(lrlab.linear(0.1, 0.02, steps=10), mult=2.0, decay=0.5, limit=3)
    # cycle 0: [0, 10), cycle 1: [10, 30) peak 0.05, cycle 2: [30, 70) peak 0.025, then the floor 0.02
    _close([s(5), s(10), s(20), s(30), s(50), s(70), s(500)], [0.06, 0.05, 0.035, 0.025, 0.0225, 0.02, 0.02])
    assert s.horizon() == pytest.approx(70)
    assert lrlab.cycles(lrlab.linear(0.1, 0.02, steps=10)).horizon() is None


def test_noise_is_a_pure_function_of_t_and_the_seed() -> None:
    s = lrlab.noisy(lrlab.constant(1.0), start=100, end=20_100, pct=0.67, std=1.0, seed=7)
    t = np.arange(0.0, 20_200.0)
    rates = s(t)
    assert np.array_equal(rates, s(t)) and rates[150] == s(150) == s(150.0)
    assert np.array_equal(rates[:100], np.ones(100)) and np.array_equal(rates[20_100:], np.ones(100))
    noise = rates[100:20_100] - 1.0
    assert np.all(np.abs(noise) < 0.67)
    # the std of N(0, 1) kept inside (-0.67, 0.67): sqrt(1 - 2 * 0.67 * phi(0.67) / (2 * Phi(0.67) - 1))
    phi, cdf = math.exp(-(0.67**2) / 2) / math.sqrt(2 * math.pi), 0.5 * (1 + math.erf(0.67 / math.sqrt(2)))
    assert noise.std() == pytest.approx(math.sqrt(1 - 2 * 0.67 * phi / (2 * cdf - 1)), rel=0.03)
    assert abs(noise.mean()) < 0.01
    other = lrlab.noisy(lrlab.constant(1.0), start=100, end=20_100, seed=8)(t)
    assert np.mean(other[100:20_100] == rates[100:20_100]) < 0.01  # another seed, other draws
    shuffled = np.random.default_rng(0).permutation(t)
    assert np.array_equal(s(shuffled), rates[shuffled.astype(int)])  # each t on its own, whatever the order


def test_uniform_noise_fills_its_band() -> None:
    s = lrlab.noisy(lrlab.constant(0.5), pct=0.2, kind="uniform", seed=3)
    noise = s(np.arange(10_000.0)) / 0.5 - 1.0
    assert noise.min() >= -0.2 - 1e-12 and noise.max() < 0.2
    assert noise.min() < -0.19 and noise.max() > 0.19 and abs(noise.mean()) < 0.01
    assert noise.std() == pytest.approx(0.4 / math.sqrt(12), rel=0.05)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lrlab.cycles(lrlab.square_root(0.1)), "cycles: schedule must be a schedule with a finite horizon > 0"),
        (lambda: lrlab.cycles(lrlab.constant(0.1)), "its horizon is 0.0"),
        (lambda: lrlab.cycles(lrlab.cosine(0.1, steps=5), limit=1.5), "limit must be a whole number"),
        (lambda: lrlab.cycles(lrlab.cosine(0.1, steps=5), mult=0.5), "mult must be >= 1"),
        (lambda: lrlab.tanh(0.1, steps=5, lower=3, upper=3), "tanh: lower must be < upper (3)"),
        (lambda: lrlab.noisy(lrlab.constant(0.1), start=10, end=5), "noisy: end must be > start (10)"),
        (lambda: lrlab.noisy(lrlab.constant(0.1), pct=0), "pct must be > 0"),
        (lambda: lrlab.noisy(lrlab.constant(0.1), seed=1.5), "seed must be a whole number"),
        (lambda: lrlab.stretch(lrlab.constant(0.1), ratio=0), "stretch: ratio must be > 0"),
        (lambda: lrlab.product([]), "product: schedules must be a non-empty list"),
        (lambda: lrlab.wsd(0.1, 100, 10, 20, decay=lrlab.cosine(0.1, steps=30)), "settles within decay_steps=20"),
        (lambda: lrlab.wsd(0.1, 100, 10, 20, decay=lrlab.cosine(0.1, steps=9), final_lr=0.01), "final_lr must be 0"),
        (lambda: lrlab.wsd(0.1, 100, 10, 20, decay="exp"), "'1-sqrt' or a schedule; got decay='exp'"),
    ],
)
def test_a_misfit_is_refused_by_name(build: object, message: str) -> None:
    with pytest.raises(ScheduleError, match=None) as caught:
        build()  # type: ignore[operator]
    assert message in str(caught.value)


def test_specs_in_text_and_json() -> None:
    text = "wsd(0.1, steps=100, warmup_steps=10, decay_steps=20, decay=cosine(0.1, steps=20))"
    s = lrlab.parse(text)
    assert str(s) == text and lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert lrlab.parse("wsd(0.1, 100, 10, 20, decay='1-sqrt')").decay == "sqrt"
    spec = 'noisy(cycles(tanh(0.1, steps=50), mult=2.0, limit=3), start=10, kind="uniform", seed=3)'
    assert str(lrlab.parse(spec)) == spec


# -- properties of every new family and option -----------------------------------------


@relaxed
@given(s=ALL)
def test_text_and_dict_forms_round_trip(s: lrlab.Schedule) -> None:
    assert lrlab.parse(str(s)) == s
    assert lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert eval(repr(s), {"lrlab": lrlab}) == s


@relaxed
@given(s=ALL, t=steps)
def test_scalar_and_array_agree_and_calls_are_pure(s: lrlab.Schedule, t: list[float]) -> None:
    arr = np.array(t)
    before = arr.copy()
    first = s(arr)
    assert np.array_equal(arr, before)  # t is not written into
    assert np.array_equal(first, s(arr))
    assert np.array_equal(first, [s(x) for x in t])
    assert np.array_equal(s(arr.reshape(-1, 1)).ravel(), first)
    assert np.all(np.isfinite(first)) and np.all(first >= 0)


@relaxed
@given(s=ALL, offsets=st.lists(st.floats(0.0, 1e5, exclude_min=True), max_size=20))
def test_the_rate_holds_after_the_horizon(s: lrlab.Schedule, offsets: list[float]) -> None:
    end = s.horizon()
    if end is None:
        return
    later = np.array([np.nextafter(end, np.inf), *(end + d for d in offsets)])
    assert np.all(s(later) == s(later[0]))


@relaxed
@given(s=STRATEGIES["cycles"], t=steps)
def test_cycles_stay_between_floor_and_peak(s: lrlab.Cycles, t: list[float]) -> None:
    inner = s.schedule(np.linspace(0.0, s.period, 257))
    floor = s.schedule(s.period)
    high = max(float(inner.max()), floor, s.peak or 0.0)
    low = min(float(inner.min()), floor)
    rates = s(np.array(t))
    if s.peak is not None and (s.peak < floor or float(inner[0]) < floor):
        # a peak under the floor, or a rising cycle: the height grows as the "peak" shrinks away from
        # the floor (timm's formula, meant for falling cycles, extrapolates there)
        return
    assert np.all(rates >= min(low, 0.0 if s.decay < 1 else low) - 1e-12)
    assert np.all(rates <= high * (1 + 1e-9) + 1e-12)


@relaxed
@given(s=STRATEGIES["tanh"], t=steps)
def test_tanh_falls_between_its_ends(s: lrlab.Tanh, t: list[float]) -> None:
    rates = s(np.sort(np.array(t)))
    assert np.all(np.diff(rates) <= 1e-15) or s.base_lr < s.final_lr
    assert np.all(rates <= max(s.base_lr, s.final_lr) + 1e-15) and np.all(rates >= min(s.base_lr, s.final_lr) - 1e-15)


@relaxed
@given(s=STRATEGIES["stretch"], t=steps)
def test_stretch_is_the_schedule_on_a_slower_clock(s: lrlab.Stretch, t: list[float]) -> None:
    arr = np.array(t)
    if not (s.keep_warmup and isinstance(s.schedule, lrlab.Warmup)):
        assert np.array_equal(s(arr), s.schedule(arr / s.ratio))


@relaxed
@given(inner=OPTIONS["cosine:k_decay"] | STRATEGIES["tanh"] | OPTIONS["poly:k_decay"], w=st.integers(1, 40))
def test_continuous_where_a_warmup_hands_over_and_where_wsd_decays(inner: lrlab.Schedule, w: int) -> None:
    s = lrlab.warmup(inner, steps=w)
    assert s(np.nextafter(w, 0)) == pytest.approx(s(w), rel=1e-9, abs=1e-12)
    end = inner.horizon()
    assert end is not None
    base = inner(0)
    wsd = lrlab.wsd(base, steps=end + 50, warmup_steps=0, decay_steps=end, decay=inner)
    assert wsd(49) == base and wsd(50) == pytest.approx(base, rel=1e-9)
