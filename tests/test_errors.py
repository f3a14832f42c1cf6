"""Bad input: every constructor names the argument and the bad value.

Each case starts from a fresh valid configuration and changes one field, so
a test can only fail for the reason it names.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import lrlab

VALID: dict[str, dict[str, Any]] = {
    "constant": {"lr": 0.1},
    "square_root": {"lr": 0.1},
    "inverse_power": {"lr": 0.1, "power": 0.5, "offset": 1.0},
    "factor": {"base_lr": 2.0, "factor": 0.9, "every": 1, "min_lr": 0.01},
    "multi_factor": {"base_lr": 0.5, "milestones": [15, 30], "factor": 0.5},
    "piecewise_constant": {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]},
    "exponential": {"base_lr": 0.1, "rate": 0.5, "every": 10, "staircase": False, "min_lr": 0.0},
    "poly": {"base_lr": 0.1, "steps": 40, "power": 2.0, "final_lr": 0.001},
    "linear": {"start_lr": 0.0, "end_lr": 0.1, "steps": 10},
    "cosine": {"base_lr": 0.3, "steps": 20, "final_lr": 0.01},
    "cosine_restarts": {"base_lr": 0.1, "period": 10, "period_mult": 2.0, "final_lr": 0.0, "decay": 0.5},
    "cyclic": {"base_lr": 0.001, "max_lr": 0.1, "step_size": 10, "mode": "triangular", "gamma": 1.0},
    "one_cycle": {"max_lr": 0.1, "steps": 100, "pct_start": 0.3, "anneal": "cos"},
    "wsd": {"base_lr": 0.1, "steps": 100, "warmup_steps": 10, "decay_steps": 20, "decay": "linear"},
    "warmup": {"schedule": lrlab.cosine(0.3, steps=15), "steps": 5, "start_lr": 0.0, "mode": "linear"},
    "join": {"schedules": [lrlab.linear(0.0, 0.1, steps=10), lrlab.constant(0.1)], "boundaries": [10]},
    "scaled": {"schedule": lrlab.constant(0.1), "by": 2.0},
    "clipped": {"schedule": lrlab.constant(0.1), "min_lr": 0.01, "max_lr": 0.05},
}

# (family, field, bad value, the message it must give)
BAD: list[tuple[str, str, Any, str]] = [
    ("constant", "lr", -0.1, "lr must be >= 0; got lr=-0.1"),
    ("constant", "lr", "0.1", "lr must be a number; got lr='0.1'"),
    ("constant", "lr", True, "lr must be a number; got lr=True"),
    ("constant", "lr", float("nan"), "lr must be a finite number; got lr=nan"),
    ("square_root", "lr", float("inf"), "lr must be a finite number; got lr=inf"),
    ("inverse_power", "offset", 0, "offset must be > 0; got offset=0"),
    ("inverse_power", "power", -1, "power must be >= 0; got power=-1"),
    ("factor", "factor", 1.5, "factor must be <= 1; got factor=1.5"),
    ("factor", "factor", 0, "factor must be > 0; got factor=0"),
    ("factor", "every", 0, "every must be > 0; got every=0"),
    ("factor", "min_lr", -1e-3, "min_lr must be >= 0; got min_lr=-0.001"),
    ("multi_factor", "milestones", [30, 15], "milestones must be in non-decreasing order; got milestones=[30, 15]"),
    ("multi_factor", "milestones", [-1, 15], "milestones[0] must be >= 0; got milestones[0]=-1"),
    ("multi_factor", "milestones", 15, "milestones must be a list of numbers; got milestones=15"),
    ("multi_factor", "factor", 0.0, "factor must be > 0; got factor=0.0"),
    ("piecewise_constant", "values", [0.1, 0.01], "values must be of length 3 (one more than boundaries)"),
    ("piecewise_constant", "boundaries", [20, 10], "boundaries must be strictly increasing; got boundaries=[20, 10]"),
    ("exponential", "rate", 0, "rate must be > 0; got rate=0"),
    ("exponential", "staircase", 1, "staircase must be True or False; got staircase=1"),
    ("poly", "steps", 0, "steps must be > 0; got steps=0"),
    ("poly", "power", 0, "power must be > 0; got power=0"),
    ("linear", "steps", -5, "steps must be > 0; got steps=-5"),
    ("cosine", "steps", 0, "steps must be > 0; got steps=0"),
    ("cosine", "final_lr", -0.01, "final_lr must be >= 0; got final_lr=-0.01"),
    ("cosine", "steps", 2.5j, "steps must be a number; got steps=2.5j"),
    ("cosine_restarts", "period_mult", 0.5, "period_mult must be >= 1; got period_mult=0.5"),
    ("cosine_restarts", "period", 0, "period must be > 0; got period=0"),
    ("cosine_restarts", "decay", 1.5, "decay must be <= 1; got decay=1.5"),
    ("cyclic", "mode", "triangle", "mode must be one of 'triangular', 'triangular2', 'exp_range'; got mode='triangle'"),
    ("cyclic", "max_lr", 0.0001, "max_lr must be >= base_lr (0.001); got max_lr=0.0001"),
    ("cyclic", "step_size", 0, "step_size must be > 0; got step_size=0"),
    ("one_cycle", "pct_start", 1.0, "pct_start must be < 1; got pct_start=1.0"),
    ("one_cycle", "anneal", "cosine", "anneal must be one of 'cos', 'linear'; got anneal='cosine'"),
    ("wsd", "decay_steps", 95, "decay_steps must be <= steps - warmup_steps (90); got decay_steps=95"),
    ("wsd", "decay", "exp", "decay must be one of 'linear', 'cosine', 'sqrt', '1-sqrt' or a schedule; got decay='exp'"),
    ("warmup", "schedule", 0.3, "schedule must be a schedule; got schedule=0.3"),
    ("warmup", "steps", -1, "steps must be >= 0; got steps=-1"),
    ("warmup", "mode", "cosine", "mode must be one of 'linear', 'constant'; got mode='cosine'"),
    (
        "join",
        "boundaries",
        [10, 20],
        "boundaries must be of length 1 (one fewer than schedules); got boundaries=[10, 20]",
    ),
    ("join", "boundaries", [0], "boundaries must be > 0"),
    ("join", "schedules", [], "schedules must be a non-empty list of schedules; got schedules=[]"),
    (
        "join",
        "schedules",
        [lrlab.constant(0.1), "cosine"],
        "schedules[1] must be a schedule; got schedules[1]='cosine'",
    ),
    ("scaled", "by", -2, "by must be >= 0; got by=-2"),
    ("clipped", "max_lr", 0.001, "max_lr must be >= 0.01; got max_lr=0.001"),
]


def test_the_valid_configs_build() -> None:
    assert set(VALID) <= set(lrlab.REGISTRY)
    for name, kwargs in VALID.items():
        lrlab.REGISTRY[name](**kwargs)


@pytest.mark.parametrize(("family", "field", "bad", "message"), BAD, ids=[f"{f}-{a}-{m[:20]}" for f, a, _, m in BAD])
def test_bad_argument_is_named_with_its_value(family: str, field: str, bad: Any, message: str) -> None:
    kwargs = dict(VALID[family])
    kwargs[field] = bad
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        lrlab.REGISTRY[family](**kwargs)
    assert str(info.value).startswith(f"{family}: ")
    assert isinstance(info.value, lrlab.ScheduleError)


@pytest.mark.parametrize(
    ("family", "field", "bad", "message"),
    [c for c in BAD if c[0] not in ("warmup", "join", "scaled", "clipped") and not isinstance(c[2], complex)],
)
def test_the_same_bad_argument_is_refused_by_parse_and_from_dict(
    family: str, field: str, bad: Any, message: str
) -> None:
    kwargs = dict(VALID[family])
    kwargs[field] = bad
    data = {"type": family, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        lrlab.from_dict(data)
    if (isinstance(bad, float) and bad != bad) or bad in (float("inf"),):
        return  # nan and inf have no literal in the spec grammar
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    with pytest.raises(ValueError, match=re.escape(message)):
        lrlab.parse(f"{family}({args})")
