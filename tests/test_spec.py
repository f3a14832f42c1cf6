"""Text specs and dicts: canonical forms, round trips, and refusal of anything else."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from lrlab.schedules.spec import MAX_DEPTH, MAX_SPEC_LENGTH


def test_canonical_text_puts_the_first_argument_first_and_drops_defaults() -> None:
    s = lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)
    assert str(s) == "warmup(cosine(0.3, steps=15, final_lr=0.01), steps=5)"
    assert repr(s) == "lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)"
    assert eval(repr(s), {"lrlab": lrlab}) == s
    assert str(lrlab.cyclic(0.001, 0.1, step_size=10, mode="exp_range", gamma=0.99)) == (
        'cyclic(0.001, max_lr=0.1, step_size=10, mode="exp_range", gamma=0.99)'
    )
    joined = lrlab.join([lrlab.constant(0.1), lrlab.constant(0.01)], boundaries=[10])
    assert str(joined) == "join([constant(0.1), constant(0.01)], boundaries=[10])"


def test_parse_accepts_the_spellings_a_person_writes() -> None:
    expected = lrlab.multi_factor(0.5, milestones=[15, 30], factor=0.5)
    for text in (
        "multi_factor(0.5, milestones=[15, 30], factor=0.5)",
        "  multi_factor(base_lr=0.5, milestones=(15, 30), factor=.5)  ",
        "multi_factor(\n  0.5,\n  milestones=[15, 30,],\n  factor=5e-1,\n)",
    ):
        assert lrlab.parse(text) == expected
    assert lrlab.parse("cyclic(0.001, 0.1, 10, 'triangular2')") == lrlab.cyclic(
        0.001, 0.1, step_size=10, mode="triangular2"
    )
    assert lrlab.parse("clipped(constant(0.1), max_lr=None)") == lrlab.clipped(lrlab.constant(0.1))


def test_integers_stay_integers_and_floats_stay_floats() -> None:
    assert str(lrlab.parse("cosine(1, steps=20.0)")) == "cosine(1, steps=20.0)"
    assert lrlab.parse("cosine(1, steps=20.0)") == lrlab.cosine(1, steps=20.0)


def test_dict_form_is_plain_json_with_every_argument() -> None:
    s = lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)
    assert s.to_dict() == {
        "type": "warmup",
        "schedule": {
            "type": "cosine",
            "base_lr": 0.3,
            "steps": 15,
            "final_lr": 0.01,
            "exponent": 1.0,
            "k_decay": 1.0,
        },
        "steps": 5,
        "start_lr": 0.0,
        "mode": "linear",
        "shift": True,
    }
    assert lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert lrlab.from_dict({"type": "cosine", "base_lr": 0.3, "steps": 15}) == lrlab.cosine(0.3, steps=15)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cosin(0.3, steps=20)", "unknown schedule 'cosin'; did you mean 'cosine'"),
        ("sqrt_decay(0.1)", "unknown schedule 'sqrt_decay'"),
        ("cosine(0.3, step=20)", "cosine() has no argument 'step'; did you mean 'steps'"),
        ("cosine(0.3)", "cosine() needs steps"),
        ("cosine(0.3, 20, 0.01, 1.0, 1.0, 5)", "cosine() takes at most 5 arguments; got 6"),
        ("cosine(0.3, steps=20, steps=30)", "steps twice"),
        ("cosine(0.3, 20, steps=30)", "steps twice"),
        ("cosine(0.3, steps=2*10)", "arithmetic is not allowed"),
        ("cosine(0.3, steps=n)", "unknown name 'n'"),
        ("__import__('os').system('echo hi')", "is not a schedule name"),
        ("__import__('os')", "unknown schedule '__import__'"),
        ("cosine.__class__(0.3, steps=1)", "is not a schedule name"),
        ("cosine(0.3, steps=20)()", "is not a schedule name"),
        ("cosine(*[0.3, 20])", "*arguments are not allowed"),
        ("cosine(**{'base_lr': 0.3})", "**arguments are not allowed"),
        ("cosine(0.3, steps=20", "spec is not a valid call"),
        ("0.3", "spec must be a schedule call"),
        ("[cosine(0.3, steps=20)]", "spec must be a schedule call"),
        ("", "spec must not be empty"),
        ("cosine(0.3, steps=1e999)", "steps must be a finite number"),
        ("cosine(0.3, steps=" + "9" * 400 + ")", "steps must be a finite number"),
        ("cosine(0.3, steps=b'20')", "spec may not contain b'20'"),
        ("cosine(0.3, steps={'a': 1})", "is not allowed in a spec"),
        ("cosine(0.3, steps=-(-20))", "is not allowed in a spec"),
        ("lambda: 0", "is not allowed in a spec"),
        ("warmup(0.3, steps=5)", "schedule must be a schedule; got schedule=0.3"),
        ("join([cosine(0.1, steps=5)], boundaries=[3])", "boundaries must be of length 0"),
    ],
)
def test_parse_refuses_with_a_clear_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        lrlab.parse(text)


def test_parse_refuses_huge_and_deeply_nested_text() -> None:
    with pytest.raises(lrlab.SpecError, match="at most"):
        lrlab.parse("constant(0.1)" + " " * MAX_SPEC_LENGTH)
    nested = "scaled(" * (MAX_DEPTH + 5) + "constant(0.1)" + ", by=1)" * (MAX_DEPTH + 5)
    with pytest.raises(lrlab.SpecError, match="nested deeper"):
        lrlab.parse(nested)
    with pytest.raises(lrlab.SpecError):
        lrlab.parse("[" * 5000 + "]" * 5000)
    with pytest.raises(lrlab.SpecError, match="spec must be a string"):
        lrlab.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"base_lr": 0.3}, "must have a string 'type'"),
        ({"type": "cosinus", "base_lr": 0.3}, "unknown schedule type='cosinus'"),
        (
            {"type": "cosine", "base_lr": 0.3, "steps": 10, "final": 0.0},
            "has no argument 'final'; did you mean 'final_lr'",
        ),
        ({"type": "cosine", "base_lr": 0.3}, "cosine() needs steps"),
        ({"type": "cosine", "base_lr": {"x": 1}, "steps": 10}, "must have a string 'type'"),
        ({"type": "cosine", "base_lr": 0.3, "steps": object()}, "must be a number, string, list or dict"),
        ({"type": "warmup", "schedule": "cosine(0.3, steps=10)", "steps": 5}, "schedule must be a schedule"),
        ("cosine", "must be a dict"),
        ([{"type": "constant", "lr": 0.1}], "must be a dict"),
    ],
)
def test_from_dict_refuses_with_a_clear_value_error(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        lrlab.from_dict(data)


def test_from_dict_refuses_deep_nesting() -> None:
    data: dict[str, Any] = {"type": "constant", "lr": 0.1}
    for _ in range(MAX_DEPTH + 5):
        data = {"type": "scaled", "schedule": data, "by": 1.0}
    with pytest.raises(lrlab.SpecError, match="nested deeper"):
        lrlab.from_dict(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parse_raises_only_value_errors_on_arbitrary_text(text: str) -> None:
    try:
        result = lrlab.parse(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(result, lrlab.Schedule)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(lrlab.REGISTRY)),
    st.dictionaries(st.sampled_from(["lr", "base_lr", "steps", "schedule", "boundaries", "mode", "x"]), _json),
)
def test_from_dict_raises_only_value_errors_on_arbitrary_data(kind: str, fields: dict[str, Any]) -> None:
    try:
        result = lrlab.from_dict({"type": kind, **fields})
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(result, lrlab.Schedule)
