"""A spec that parses must evaluate: extreme arguments, extreme ``t`` and 0-d arrays in every family.

Every registered family, built from its declared fields with numbers at the edges of what a float
holds (5e-324, 1e308, the largest float, the bounds themselves), is either refused at construction
with an error that names the argument, or gives finite, non-negative rates at every ``t`` up to the
largest float, the same as a scalar and in an array. Then one test per reproduction of issue 14.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.errors import LrlabError, ScheduleError
from strategies import LARGEST, STRATEGIES, _combinator, extreme_kwargs, extreme_shape

families = sorted(lrlab.REGISTRY)
EXTREME_T = np.array([0.0, 0.5, 1.0, 7.0, 1e6, 1e15, 2.0**53 + 2.0, 1e300, LARGEST])


def check_finite_everywhere(s: lrlab.Schedule) -> None:
    """Finite, non-negative rates at every extreme ``t``, equal as scalars and as an array; a usable horizon."""
    rates = s(EXTREME_T)
    assert rates.dtype == np.float64 and rates.shape == EXTREME_T.shape
    assert np.all(np.isfinite(rates)), f"{s}: {rates}"
    assert np.all(rates >= 0), f"{s}: {rates}"
    scalars = np.array([s(float(t)) for t in EXTREME_T])
    np.testing.assert_array_equal(scalars, rates, err_msg=str(s))
    end = s.horizon()
    assert end is None or (math.isfinite(end) and end >= 0), f"{s}: horizon {end}"


def names_an_argument(error: LrlabError, cls: type[lrlab.Schedule]) -> bool:
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return any(f"{name} must" in str(error) or f"{name}[" in str(error) for name in fields)


@pytest.mark.parametrize("family", families)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_extreme_arguments_are_refused_by_name_or_give_finite_rates(family: str, data: st.DataObject) -> None:
    cls = lrlab.REGISTRY[family]
    inner = extreme_shape() if _combinator(cls) else None
    kwargs = data.draw(extreme_kwargs(cls, inner), label="arguments")
    try:
        s = cls(**kwargs)
    except LrlabError as error:
        assert names_an_argument(error, cls), f"{family}({kwargs}): {error}"
        return
    check_finite_everywhere(s)


@pytest.mark.parametrize("family", families)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_zero_dimensional_arrays_and_numpy_scalars_give_a_python_float(family: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[family])
    expected = s(3.0)
    for t in (np.float32(3.0), np.float64(3.0), np.int64(3), np.uint8(3), np.array(3.0), np.array(3, dtype=np.int16)):
        got = s(t)
        assert type(got) is float and got == expected, f"{s}({t!r}) = {got!r}"
    assert s(np.array([3.0])).shape == (1,)  # one dimension in, one out


# -- the reproductions of issue 14 ---------------------------------------------------------


def test_multi_factor_with_a_huge_factor_holds_at_the_largest_float() -> None:
    s = lrlab.multi_factor(0.1, milestones=[1, 2], factor=1e200)
    assert s(0) == 0.1
    assert s(1) == pytest.approx(1e199, rel=1e-15)
    assert s(2) == LARGEST  # 0.1 * 1e400: past the largest float, held there
    assert s(np.array([0.0, 1.0, 2.0, 1e300]))[-1] == LARGEST


def test_multi_factor_with_a_tiny_factor_keeps_a_huge_base() -> None:
    # 1e300 * (1e-200) ** 2 = 1e-100: the power underflows to 0, the product does not
    s = lrlab.multi_factor(1e300, milestones=[1, 2], factor=1e-200)
    assert s(2) == pytest.approx(1e-100, rel=1e-12)


def test_cosine_restarts_with_a_huge_period_mult_stays_in_its_second_cycle() -> None:
    s = lrlab.cosine_restarts(0.1, period=10, period_mult=1e308)
    assert s(5) == pytest.approx(0.05, rel=1e-12)  # the middle of the first 10 steps
    assert s(10) == 0.1  # the restart; the second cycle lasts 1e309 steps, longer than any float t
    for t in (1e6, 1e300, LARGEST):
        # 0.1 * (1 + cos(pi * (t - 10) / 1e309)) / 2, with (t - 10) / 1e309 <= 0.18
        assert s(t) == pytest.approx(0.05 * (1 + math.cos(math.pi * ((t - 10) / 1e308 / 10))), rel=1e-12)


def test_cosine_restarts_with_a_period_mult_just_above_one_reaches_a_huge_t() -> None:
    s = lrlab.cosine_restarts(0.1, period=1, period_mult=1.0 + 1e-9)
    rates = s(np.array([0.0, 0.5, 1.0, 1e15, 1e300]))
    assert rates[0] == 0.1 and rates[1] == pytest.approx(0.05, rel=1e-12) and rates[2] == pytest.approx(0.1)
    assert np.all(np.isfinite(rates)) and np.all((rates >= 0) & (rates <= 0.1))


def test_exponential_from_a_huge_base_to_a_subnormal_floor() -> None:
    s = lrlab.exponential(1e300, rate=0.5, min_lr=1e-320)
    # 1e300 * 0.5 ** h = 1e-320 at h = log2(1e300 / 1e-320), about 620 * log2(10); one period to spare
    ratio = Fraction(1e300) / Fraction(1e-320)  # the floats' exact values (1e-320 is subnormal: 9.99988671826831e-321)
    assert s.horizon() == pytest.approx(math.log2(ratio.numerator) - math.log2(ratio.denominator) + 1, rel=1e-12)
    assert s(10) == 1e300 / 1024
    # 0.5 ** 1200 underflows to 0, but 1e300 * 0.5 ** 1200 is an ordinary float
    assert s(1200) == pytest.approx(float(Fraction(1e300) / 2**1200), rel=1e-12)
    assert s(1e6) == 1e-320 and s(LARGEST) == 1e-320


def test_a_growing_exponential_is_held_at_the_largest_float() -> None:
    s = lrlab.exponential(0.1, rate=2)
    assert s(1000) == float(Fraction(0.1) * 2**1000)  # exact: a power of two
    assert s(2000) == LARGEST and s(1e300) == LARGEST
    assert s.horizon() is None
    # a subnormal base grows back into the normal floats exactly: 2**-1074 * 2**1100 = 2**26
    assert lrlab.exponential(5e-324, rate=2)(1100) == pytest.approx(2.0**26, rel=1e-12)
    assert lrlab.exponential(0.0, rate=2)(1e300) == 0.0


def test_cyclic_with_a_step_size_near_the_largest_float() -> None:
    s = lrlab.cyclic(0.1, max_lr=0.5, step_size=1e308)
    # base_lr + (max_lr - base_lr) * t / step_size on the way up, which takes 1e308 steps
    assert s(0) == 0.1 and s(1e6) == pytest.approx(0.1 + 0.4 * 1e6 / 1e308, rel=1e-15)
    assert s(5e307) == pytest.approx(0.3, rel=1e-12) and s(1e308) == pytest.approx(0.5, rel=1e-12)
    t = np.array([0.0, 1e6, 5e307, 1e308, 1.5e308, LARGEST])
    assert np.all(np.isfinite(s(t)))
    assert s(1.5e308) == pytest.approx(0.3, rel=1e-12)  # half way down


@pytest.mark.parametrize("step_size, down", [(5e-324, 1e308), (1e308, 5e-324), (5e-324, 5e-324)])
def test_cyclic_with_lopsided_or_tiny_step_sizes_stays_finite(step_size: float, down: float) -> None:
    for mode in ("triangular", "triangular2", "exp_range"):
        s = lrlab.cyclic(0.1, max_lr=0.5, step_size=step_size, step_size_down=down, mode=mode, gamma=0.5)
        rates = s(EXTREME_T)
        assert np.all(np.isfinite(rates)) and np.all((rates >= 0.1) & (rates <= 0.5)), (s, rates)
    assert lrlab.cyclic(0.1, max_lr=0.5, step_size=step_size, step_size_down=down)(0) == 0.1


def test_an_int_too_large_for_a_float_is_refused_as_t() -> None:
    s = lrlab.cosine(0.1, steps=10)
    for huge in (10**400, Fraction(10**400)):
        with pytest.raises(ScheduleError, match=r"t must be finite and >= 0; got t="):
            s(huge)
    with pytest.raises(ScheduleError, match=r"got t=<an int of 401 digits>"):
        s(10**400)
    assert s(10**300) == s(1e300) == s(2**1000) == 0.0  # an int a float can hold is read as that float


def test_an_int_too_large_for_a_float_is_refused_as_an_argument() -> None:
    with pytest.raises(ScheduleError, match=r"cosine: steps must be a finite number; got steps=<an int of 5001 digit"):
        lrlab.cosine(0.1, steps=10**5000)
    with pytest.raises(ScheduleError, match=r"steps must be a finite number; got steps=<an int of 401 digits>"):
        lrlab.parse("cosine(0.1, steps=" + "1" + "0" * 400 + ")")


def test_t_beyond_two_to_the_53_is_read_as_the_nearest_float() -> None:
    s = lrlab.cosine_wave(0.1, steps=3)
    big = 2**53 + 1  # not a float: rounds to 2**53
    assert s(big) == s(float(big)) == s(np.array([float(big)]))[0]
