"""Each registered family knows itself, and says so in one place.

Walks `lrlab.REGISTRY`: a family added without its own `horizon`, a
docstring example, a test strategy or its public names fails here, by name.
Then the properties that tie those facts together: the rate holds after the
horizon, and ``repr`` is a Python call that builds the schedule again.
"""

from __future__ import annotations

import dataclasses
import doctest
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.schedules.base import Schedule, arg, family
from strategies import STRATEGIES, any_schedule

families = sorted(lrlab.REGISTRY)
relaxed = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def what_is_missing(name: str, cls: type[Schedule]) -> list[str]:
    """What the family `cls`, registered as `name`, lacks of what every family brings."""
    missing = []
    if "horizon" not in vars(cls):
        missing.append("its own horizon()")
    if "_rates" not in vars(cls):
        missing.append("its own _rates()")
    if ">>>" not in (cls.__doc__ or ""):
        missing.append("a docstring with a >>> example")
    if name not in STRATEGIES:
        missing.append("a strategy in tests/strategies.py")
    if getattr(lrlab, name, None) is not cls or getattr(lrlab, cls.__name__, None) is not cls:
        missing.append(f"lrlab.{name} and lrlab.{cls.__name__}")
    return missing


@pytest.mark.parametrize("name", families)
def test_every_family_brings_what_every_family_must(name: str) -> None:
    cls = lrlab.REGISTRY[name]
    assert cls.name == name
    assert what_is_missing(name, cls) == []


def test_the_walk_names_what_a_family_lacks() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, repr=False)
    class Bare(Schedule):  # not registered: the registry stays as it is
        """A family with nothing but a field."""

        lr: float = arg(low=0)
        name = "bare"

    assert what_is_missing("bare", Bare) == [
        "its own horizon()",
        "its own _rates()",
        "a docstring with a >>> example",
        "a strategy in tests/strategies.py",
        "lrlab.bare and lrlab.Bare",
    ]


def test_a_field_without_its_requirement_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Loose\.lr must be declared with arg\(\)"):

        @family
        class Loose(Schedule):
            lr: float = 0.1
            name = "loose"

    assert "loose" not in lrlab.REGISTRY


def test_the_public_names_are_listed_once_and_exist() -> None:
    assert len(lrlab.__all__) == len(set(lrlab.__all__))
    assert all(hasattr(lrlab, name) for name in lrlab.__all__)
    for cls in lrlab.REGISTRY.values():
        assert {cls.name, cls.__name__} <= set(lrlab.__all__)
        assert {cls.name, cls.__name__} <= set(lrlab.schedules.__all__)


@pytest.mark.parametrize("name", families)
def test_the_docstring_example_runs(name: str) -> None:
    cls = lrlab.REGISTRY[name]
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder(recurse=False).find(cls, globs=vars(sys.modules[cls.__module__])):
        runner.run(test)
    outcome = runner.summarize(verbose=False)
    assert outcome.attempted > 0 and outcome.failed == 0


# -- the horizon --------------------------------------------------------------------


def _assert_holds_after(s: lrlab.Schedule, offsets: list[float]) -> None:
    end = s.horizon()
    assert end is not None
    just_after = np.nextafter(end, np.inf)
    later = np.array([just_after, *(max(end + d, just_after) for d in offsets)], dtype=np.float64)
    rates = s(later)
    assert (rates == rates[0]).all(), (str(s), end, later[rates != rates[0]][:3])


later_offsets = st.lists(st.floats(min_value=0.0, max_value=1e5, exclude_min=True), max_size=20)


@pytest.mark.parametrize("name", families)
@relaxed
@given(data=st.data())
def test_the_rate_holds_after_the_horizon(name: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[name])
    if s.horizon() is None:
        return  # never settles (the adapters then need steps=)
    _assert_holds_after(s, data.draw(later_offsets))


@relaxed
@given(s=any_schedule, offsets=later_offsets)
def test_nested_schedules_hold_after_their_horizon(s: lrlab.Schedule, offsets: list[float]) -> None:
    if s.horizon() is not None:
        _assert_holds_after(s, offsets)


# the families whose strategies rarely or never settle, at the arguments where they do
SETTLING = [
    "square_root(0)",
    "inverse_power(0, power=2.0)",
    "cyclic(0.1, 0.1, step_size=5)",
    "cosine_restarts(0.1, period=10, final_lr=0.1)",
    "inverse_time(0.1, rate=0)",
    "inverse_time(0, rate=0.5)",
    "cosine_wave(0.1, steps=10, final_lr=0.1)",
    "poly_cycle(0.1, steps=10, final_lr=0.1)",
    "scaled(square_root(0.1), by=0)",
    "piecewise_constant([10], [0.1, 0.01], inclusive=True)",
    "exponential(0.1, rate=0.5, every=3, min_lr=0.01)",
    "exponential(0.1, rate=0.5, every=3, staircase=True, min_lr=0.01)",
    "factor(0.1, factor=0.5, every=3, min_lr=0.01)",
    "skip(linear(0, 0.1, steps=10), steps=25)",
    "skip(lifted(cosine(0.1, steps=20), by=0.01), steps=5)",
]


@pytest.mark.parametrize("spec", SETTLING)
@relaxed
@given(offsets=later_offsets)
def test_special_arguments_settle_and_hold(spec: str, offsets: list[float]) -> None:
    _assert_holds_after(lrlab.parse(spec), offsets)


@pytest.mark.parametrize(
    "spec", ["square_root(0.1)", "cyclic(0.1, 0.2, 5)", "cosine_wave(0.1, 10)", "warmup(inverse_power(0.1), 5)"]
)
def test_a_schedule_that_keeps_changing_has_no_horizon(spec: str) -> None:
    assert lrlab.parse(spec).horizon() is None


# -- repr ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", families)
@relaxed
@given(data=st.data())
def test_repr_is_the_python_call_that_builds_it(name: str, data: st.DataObject) -> None:
    s = data.draw(STRATEGIES[name])
    assert eval(repr(s), {"lrlab": lrlab}) == s
    assert repr(s).startswith(f"lrlab.{name}(")
    assert "lrlab." not in str(s)


@relaxed
@given(s=any_schedule)
def test_nested_repr_builds_an_equal_schedule(s: lrlab.Schedule) -> None:
    assert eval(repr(s), {"lrlab": lrlab}) == s
    assert "lrlab." not in str(s)
