"""Each family against the formula of the public contract, written here with `math`.

The reference functions below are independent scalar transcriptions of the
table in the foundation issue; the schedules must agree at every t tried.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from strategies import STRATEGIES

T_VALUES = st.one_of(st.integers(0, 2000), st.floats(0.0, 2000.0))
check = settings(max_examples=80, deadline=None)


def _close(actual: float, expected: float) -> None:
    assert actual == pytest.approx(expected, rel=1e-12, abs=1e-300)


@check
@given(s=STRATEGIES["constant"], t=T_VALUES)
def test_constant(s: lrlab.Constant, t: float) -> None:
    assert s(t) == s.lr


@check
@given(s=STRATEGIES["square_root"], t=T_VALUES)
def test_square_root(s: lrlab.SquareRoot, t: float) -> None:
    _close(s(t), s.lr * (t + 1) ** -0.5)


@check
@given(s=STRATEGIES["inverse_power"], t=T_VALUES)
def test_inverse_power(s: lrlab.InversePower, t: float) -> None:
    _close(s(t), s.lr * (t + s.offset) ** -s.power)


@check
@given(s=STRATEGIES["factor"], t=T_VALUES)
def test_factor(s: lrlab.Factor, t: float) -> None:
    _close(s(t), max(s.min_lr, s.base_lr * s.factor ** math.floor(t / s.every)))


@check
@given(s=STRATEGIES["multi_factor"], t=T_VALUES)
def test_multi_factor_applies_the_new_rate_at_the_milestone(s: lrlab.MultiFactor, t: float) -> None:
    _close(s(t), s.base_lr * s.factor ** sum(1 for m in s.milestones if m <= t))
    for m in s.milestones:
        assert s(m) == s.base_lr * s.factor ** sum(1 for x in s.milestones if x <= m)


@check
@given(s=STRATEGIES["piecewise_constant"], t=T_VALUES)
def test_piecewise_constant(s: lrlab.PiecewiseConstant, t: float) -> None:
    assert s(t) == s.values[sum(1 for b in s.boundaries if b <= t)]


@check
@given(s=STRATEGIES["exponential"], t=T_VALUES)
def test_exponential(s: lrlab.Exponential, t: float) -> None:
    p = math.floor(t / s.every) if s.staircase else t / s.every
    _close(s(t), max(s.min_lr, s.base_lr * s.rate**p))


@check
@given(s=STRATEGIES["poly"], t=T_VALUES)
def test_poly(s: lrlab.Poly, t: float) -> None:
    _close(s(t), s.final_lr + (s.base_lr - s.final_lr) * (1 - min(t, s.steps) / s.steps) ** s.power)


@check
@given(s=STRATEGIES["linear"], t=T_VALUES)
def test_linear(s: lrlab.Linear, t: float) -> None:
    # The formula as written (torch's LinearLR and OneCycleLR compute it so, and the golden tests hold
    # lrlab to their numbers). start + (end - start) * f cancels near the end of a falling line: the
    # rounding error of the product is relative to max(start, end), not to the small value left.
    expected = s.start_lr + (s.end_lr - s.start_lr) * min(t, s.steps) / s.steps
    assert s(t) == pytest.approx(expected, rel=1e-12, abs=1e-15 * max(s.start_lr, s.end_lr))


@check
@given(s=STRATEGIES["cosine"], t=T_VALUES)
def test_cosine(s: lrlab.Cosine, t: float) -> None:
    shape = ((1 + math.cos(math.pi * min(t, s.steps) / s.steps)) / 2) ** s.exponent
    _close(s(t), s.final_lr + (s.base_lr - s.final_lr) * shape)


def _sgdr(s: lrlab.CosineRestarts, t: float) -> float:
    start, length, cycle = 0.0, float(s.period), 0
    while t >= start + length:
        start += length
        length *= s.period_mult
        cycle += 1
    peak = s.base_lr * s.decay**cycle
    return s.final_lr + (peak - s.final_lr) * (1 + math.cos(math.pi * (t - start) / length)) / 2


@check
@given(s=STRATEGIES["cosine_restarts"], t=T_VALUES)
def test_cosine_restarts(s: lrlab.CosineRestarts, t: float) -> None:
    assert s(t) == pytest.approx(_sgdr(s, t), rel=1e-9, abs=1e-15)


def _triangle(s: lrlab.Cyclic, t: float) -> float:
    up = s.step_size
    down = s.step_size if s.step_size_down is None else s.step_size_down
    cycle, into = divmod(t, up + down)
    frac = into / up if into <= up else 1 - (into - up) / down
    height = (s.max_lr - s.base_lr) * frac
    if s.mode == "triangular2":
        height *= 0.5**cycle
    elif s.mode == "exp_range":
        height *= s.gamma**t
    return s.base_lr + height


@check
@given(s=STRATEGIES["cyclic"], t=T_VALUES)
def test_cyclic(s: lrlab.Cyclic, t: float) -> None:
    # torch's position in the cycle, 1 + t / total - cycle, is exact only to about 2 ulp of 1,
    # which the up or down slope (height / its share of the cycle) magnifies
    up = s.step_size
    down = up if s.step_size_down is None else s.step_size_down
    slope_error = 4.5e-16 * (s.max_lr - s.base_lr) * (up + down) / min(up, down)
    assert s(t) == pytest.approx(_triangle(s, t), rel=1e-9, abs=1e-15 + slope_error)


def _one_cycle(s: lrlab.OneCycle, t: float) -> float:
    start, peak = s.max_lr / s.div_factor, s.max_lr
    end = start / s.final_div_factor
    peak_at = s.pct_start * s.steps

    def shape(a: float, b: float, frac: float) -> float:
        if s.anneal == "linear":
            return a + (b - a) * frac
        return b + (a - b) * (1 + math.cos(math.pi * frac)) / 2

    if t <= peak_at:
        return shape(start, peak, t / peak_at)
    return shape(peak, end, min(t - peak_at, s.steps - peak_at) / (s.steps - peak_at))


@check
@given(s=STRATEGIES["one_cycle"], t=T_VALUES)
def test_one_cycle(s: lrlab.OneCycle, t: float) -> None:
    assert s(t) == pytest.approx(_one_cycle(s, t), rel=1e-9, abs=1e-15)


def _wsd(s: lrlab.WSD, t: float) -> float:
    if t < s.warmup_steps:
        return s.base_lr * t / s.warmup_steps
    decay_from = s.steps - s.decay_steps
    if t < decay_from or s.decay_steps == 0:
        return s.base_lr
    frac = min(t - decay_from, s.decay_steps) / s.decay_steps
    left = {"linear": 1 - frac, "cosine": (1 + math.cos(math.pi * frac)) / 2, "sqrt": 1 - math.sqrt(frac)}
    return s.final_lr + (s.base_lr - s.final_lr) * left[s.decay]


@check
@given(s=STRATEGIES["wsd"], t=T_VALUES)
def test_wsd(s: lrlab.WSD, t: float) -> None:
    assert s(t) == pytest.approx(_wsd(s, t), rel=1e-12, abs=1e-15)


def test_the_chapters_warmup_cosine_is_a_warmup_around_a_cosine() -> None:
    # The chapter's CosineScheduler(20, warmup_steps=5, base_lr=0.3, final_lr=0.01),
    # transcribed from its formula: linear warmup from 0, cosine over the
    # remaining 15 steps, then 0.01.
    s = lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)
    for t in range(60):
        if t < 5:
            expected = 0.3 * t / 5
        elif t <= 20:
            expected = 0.01 + (0.3 - 0.01) * (1 + math.cos(math.pi * (t - 5) / 15)) / 2
        else:
            expected = 0.01
        _close(s(t), expected)


def test_constant_warmup_holds_start_lr_then_hands_over() -> None:
    s = lrlab.warmup(lrlab.constant(0.1), steps=3, start_lr=0.01, mode="constant")
    assert [s(t) for t in range(5)] == [0.01, 0.01, 0.01, 0.1, 0.1]


def test_fractional_steps_read_an_epoch_schedule_between_epochs() -> None:
    s = lrlab.multi_factor(0.5, milestones=[15, 30], factor=0.5)
    assert s(14.99) == 0.5 and s(15.0) == 0.25 and s(29.5) == 0.25
    c = lrlab.cosine(0.3, steps=20)
    assert c(2.5) == pytest.approx(0.15 * (1 + math.cos(math.pi * 2.5 / 20)), rel=1e-12)


def test_scalar_input_returns_a_python_float_and_arrays_keep_their_shape() -> None:
    s = lrlab.cosine(0.3, steps=20)
    assert type(s(3)) is float and type(s(np.float32(3))) is float
    grid = np.arange(12).reshape(3, 4)
    out = s(grid)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert s(np.arange(5, dtype=np.int8)).dtype == np.float64


@pytest.mark.parametrize("bad", [-1, -0.5, math.inf, math.nan, -math.inf])
def test_negative_or_non_finite_steps_are_refused(bad: float) -> None:
    s = lrlab.constant(0.1)
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        s(bad)
    with pytest.raises(ValueError, match="t must be finite and >= 0"):
        s(np.array([0.0, 1.0, bad]))


@pytest.mark.parametrize("bad", ["3", None, True, [1, 2], np.array(["a"]), np.array([True])])
def test_steps_of_the_wrong_type_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="t must"):
        lrlab.constant(0.1)(bad)  # type: ignore[arg-type]


def test_schedules_are_immutable_values() -> None:
    s = lrlab.cosine(0.3, steps=20)
    with pytest.raises(AttributeError):
        s.steps = 10  # type: ignore[misc]
    assert s == lrlab.cosine(0.3, steps=20) and hash(s) == hash(lrlab.cosine(0.3, steps=20))
    milestones = [15, 30]
    m = lrlab.multi_factor(0.5, milestones=milestones, factor=0.5)
    milestones.append(45)
    assert m.milestones == (15, 30)


def test_empty_arrays_give_empty_arrays() -> None:
    out = lrlab.cosine_restarts(0.1, period=10, period_mult=2.0)(np.array([]))
    assert out.shape == (0,) and out.dtype == np.float64
