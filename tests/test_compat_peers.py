"""``lrlab.compat.hf`` and ``lrlab.compat.timm`` against rates recorded from transformers and timm.

``tests/golden/hf.json`` and ``timm.json`` were written by ``tests/golden/record_peers.py``
running the real libraries (versions in each case) the way their training loops drive them.
Every case is rebuilt here by the compat call a user would write -- the peer's name and
argument names, fed the case's ``params`` -- and must agree at ``rtol = 1e-12`` (and
``atol = 1e-15`` where the peer's rate is exactly 0). Both peers compute in float64 Python
floats, so nothing needs a looser tolerance; the largest gap over all cases is 4.5e-13
(transformers' cosine with ``num_cycles=1.91`` over a single step, 40 steps past its end: the
cosine's argument is large there, and lrlab's ``pi * t / steps`` and transformers'
``pi * num_cycles * 2 * progress`` round differently). timm's cases agree to 1e-13.

timm's noise cannot match draw for draw: timm draws from torch's generator, lrlab's `noisy`
from its own hash of ``(seed, t)``. The noisy cases are checked for timm's rule instead:
the rates outside the noise range are timm's, the ones inside stay within ``noise_pct`` of
the noise-free rates (which the golden file also holds), and they are a function of ``t``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrlab
from lrlab import Schedule
from lrlab.compat import hf
from lrlab.compat import timm as tm
from lrlab.compat import torch as T

GOLDEN = Path(__file__).parent / "golden"
RTOL = 1e-12
ZERO_ATOL = 1e-15


@cache
def cases(library: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((GOLDEN / f"{library}.json").read_text())
    return data


def assert_agrees(got: np.ndarray, ref: np.ndarray, what: str = "") -> None:
    zero = ref == 0
    np.testing.assert_allclose(got[zero], ref[zero], rtol=0, atol=ZERO_ATOL, err_msg=what)
    np.testing.assert_allclose(got[~zero], ref[~zero], rtol=RTOL, atol=0, err_msg=what)


def steps(case: dict[str, Any]) -> np.ndarray:
    return np.arange(case["n"], dtype=np.float64)


# -- the compat call for each case, from its params ------------------------------------------------


def hf_call(case: dict[str, Any]) -> Schedule:
    params = dict(case["params"])
    base_lr = params.pop("base_lr")
    result: Schedule = getattr(hf, case["call"])(**params, base_lr=base_lr)
    return result


def timm_call(case: dict[str, Any]) -> tuple[Schedule, Any]:
    params = dict(case["params"])
    base_lr = params.pop("base_lr")
    if case["call"] == "create_scheduler_v2":
        schedule, num_epochs = tm.create_scheduler_v2(**params, base_lr=base_lr)
        return schedule, num_epochs
    return getattr(tm, case["call"])(**params, base_lr=base_lr), None


def case_id(library: str) -> Callable[[int], str]:
    def name(i: int) -> str:
        case = cases(library)[i]
        return f"{i}-{case['params'].get('name') or case['params'].get('sched') or case['call']}"

    return name


HF_CASES = range(len(cases("hf")))
TIMM_CASES = range(len(cases("timm")))


def noisy(case: dict[str, Any]) -> bool:
    return "lrs_without_noise" in case


# -- the golden files cover what the modules offer ----------------------------------------------------


def test_hf_golden_covers_every_scheduler_type_and_function() -> None:
    names = {c["params"]["name"] for c in cases("hf") if c["call"] == "get_scheduler"}
    assert names == set(hf.SCHEDULER_TYPES)
    functions = {c["call"] for c in cases("hf")}
    assert functions == {*hf.SCHEDULER_TYPES.values(), "get_scheduler"}
    assert all(c["version"] == cases("hf")[0]["version"] for c in cases("hf"))
    # past the end of training in every case, where the peers' odd tails are
    for c in cases("hf"):
        end = c["params"].get("num_training_steps") or 0
        assert c["n"] > end


def test_timm_golden_covers_every_scheduler_option_and_unit() -> None:
    calls = {c["call"] for c in cases("timm")}
    assert calls == set(tm.__all__) - {"PlateauLRScheduler"}
    scheds = {c["params"]["sched"] for c in cases("timm") if c["call"] == "create_scheduler_v2"}
    assert scheds == {"cosine", "tanh", "step", "multistep", "poly", "wsd", "rsqrt", "constant", "none"}
    options = set().union(*(c["params"] for c in cases("timm") if c["call"] == "create_scheduler_v2"))
    wanted = "num_epochs decay_epochs decay_milestones cooldown_epochs decay_rate min_lr warmup_lr warmup_epochs"
    wanted += " warmup_prefix noise noise_pct noise_std noise_seed cycle_mul cycle_decay cycle_limit k_decay"
    wanted += " step_on_epochs updates_per_epoch decay_fn"
    assert set(wanted.split()) <= options
    assert {c["unit"] for c in cases("timm")} == {"epoch", "update"}
    assert sum(noisy(c) for c in cases("timm")) >= 4


# -- every golden case ------------------------------------------------------------------------------


@pytest.mark.parametrize("i", HF_CASES, ids=case_id("hf"))
def test_hf_matches_transformers(i: int) -> None:
    case = cases("hf")[i]
    s = hf_call(case)
    assert_agrees(s(steps(case)), np.asarray(case["lrs"]), what=f"{case['api']} as {s}")


@pytest.mark.parametrize("i", TIMM_CASES, ids=case_id("timm"))
def test_timm_matches_timm(i: int) -> None:
    case = cases("timm")[i]
    s, num_epochs = timm_call(case)
    t = steps(case)
    if case["call"] == "create_scheduler_v2":
        assert num_epochs == case["num_epochs_returned"]
    if not noisy(case):
        assert_agrees(s(t), np.asarray(case["lrs"]), what=f"{case['api']} as {s}")
        return
    # timm's rule, not its draws: timm's own rates outside the noise range ...
    ref, clean = np.asarray(case["lrs"]), np.asarray(case["lrs_without_noise"])
    inside = ref != clean
    assert 5 <= inside.sum() < case["n"] - 1, "the case has noisy and quiet steps"
    got = s(t)
    assert_agrees(got[~inside], ref[~inside], what=case["api"])
    # ... and inside it, within noise_pct of the noise-free rate, as timm's are
    pct = case["params"].get("noise_pct", 0.67)
    assert np.all(np.abs(ref[inside] / clean[inside] - 1) < pct)
    assert np.all(np.abs(got[inside] / clean[inside] - 1) < pct)
    assert np.any(got[inside] != clean[inside])
    np.testing.assert_array_equal(s(t), got)  # the same t, the same draw


@pytest.mark.parametrize(("library", "i"), [("hf", i) for i in HF_CASES] + [("timm", i) for i in TIMM_CASES])
def test_compat_gives_an_ordinary_core_schedule(library: str, i: int) -> None:
    case = cases(library)[i]
    s = hf_call(case) if library == "hf" else timm_call(case)[0]
    assert type(s) in lrlab.REGISTRY.values()
    assert lrlab.parse(str(s)) == s
    assert lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    t = np.arange(0.0, case["n"], 0.5)
    np.testing.assert_array_equal(lrlab.parse(str(s))(t), s(t))


# -- the peers' own argument names ------------------------------------------------------------------


def _ours(func: Callable[..., Any]) -> list[str]:
    return [p for p in inspect.signature(func).parameters if p != "base_lr"]


@pytest.mark.parametrize("library", ["hf", "timm"])
def test_argument_names_are_the_peers(library: str) -> None:
    """Same names in the same order, the optimizer left out (the golden files hold the peers' signatures)."""
    module: Any = hf if library == "hf" else tm
    seen = set()
    for case in cases(library):
        call = case["call"]
        if call == "get_scheduler":
            call = hf.SCHEDULER_TYPES[case["params"]["name"]]
        theirs = [p for p in case["signature"] if p != "optimizer"]
        assert _ours(getattr(module, call)) == theirs, call
        seen.add(call)
    assert len(seen) >= 7


def test_get_scheduler_takes_transformers_arguments() -> None:
    # transformers: get_scheduler(name, optimizer, num_warmup_steps, num_training_steps, scheduler_specific_kwargs)
    assert _ours(hf.get_scheduler) == ["name", "num_warmup_steps", "num_training_steps", "scheduler_specific_kwargs"]


# -- the peers' oddities, kept: golden examples a user would check by eye ----------------------------


def golden(library: str, call: str, **params: Any) -> dict[str, Any]:
    found = [
        c for c in cases(library) if c["call"] == call and all(c["params"].get(k, None) == v for k, v in params.items())
    ]
    assert len(found) == 1, (call, params, len(found))
    return found[0]


def test_hf_cosine_climbs_back_after_num_training_steps() -> None:
    case = golden("hf", "get_scheduler", name="cosine", num_warmup_steps=0, num_training_steps=60)
    ref = np.asarray(case["lrs"])
    s = hf.get_scheduler("cosine", num_warmup_steps=0, num_training_steps=60, base_lr=0.1)
    assert ref[60] == 0.0 and s(60) == pytest.approx(0.0, abs=ZERO_ATOL)
    assert ref[120] == pytest.approx(0.1, rel=RTOL) == s(120)  # back at base_lr: transformers never clamps
    floor = golden("hf", "get_scheduler", name="cosine_with_min_lr", num_warmup_steps=10, num_training_steps=50)
    m = hf.get_scheduler(
        "cosine_with_min_lr", 10, 50, scheduler_specific_kwargs={"min_lr": 1e-3}, base_lr=0.01
    )  # the same oddity with a floor
    assert floor["lrs"][50] == pytest.approx(1e-3, rel=RTOL) == m(50)
    assert floor["lrs"][90] == pytest.approx(0.01, rel=RTOL) == m(90)


def test_hf_cosine_warmup_with_min_lr_counts_one_step_ahead() -> None:
    kw = {"min_lr_rate": 0.1}
    ref = golden(
        "hf", "get_scheduler", name="cosine_warmup_with_min_lr", num_warmup_steps=10, scheduler_specific_kwargs=kw
    )["lrs"]
    s = hf.get_scheduler("cosine_warmup_with_min_lr", 10, 50, scheduler_specific_kwargs=kw, base_lr=0.1)
    # the warmup is at 0.1 / 10 from the first step and reaches the peak at step 9, not 10
    assert ref[0] == pytest.approx(0.01, rel=RTOL) == s(0)
    assert ref[9] == pytest.approx(0.1, rel=RTOL) == s(9)
    # the cosine is one step in at step 10, and at its floor at 49, not 50
    assert ref[10] < 0.1 and s(10) == pytest.approx(ref[10], rel=RTOL)
    assert ref[49] == pytest.approx(0.01, rel=RTOL) == s(49)
    plain = hf.get_scheduler("cosine_with_min_lr", 10, 50, scheduler_specific_kwargs=kw, base_lr=0.1)
    assert plain(10) == 0.1 and plain(50) == pytest.approx(0.01, rel=RTOL)


def test_hf_hard_restarts_then_zero() -> None:
    kw = {"num_cycles": 3}
    ref = golden("hf", "get_scheduler", name="cosine_with_restarts", num_warmup_steps=5, scheduler_specific_kwargs=kw)[
        "lrs"
    ]
    s = hf.get_scheduler("cosine_with_restarts", 5, 65, scheduler_specific_kwargs=kw, base_lr=0.1)
    assert [s(t) for t in (5, 25, 45)] == [ref[5], ref[25], ref[45]] == [0.1, 0.1, 0.1]  # restarts every 20
    assert s(64) == pytest.approx(ref[64], rel=RTOL) and s(65) == ref[65] == 0.0 == s(79)


def test_hf_polynomial_holds_lr_end() -> None:
    ref = golden("hf", "get_scheduler", name="polynomial", num_warmup_steps=10, num_training_steps=50)["lrs"]
    s = hf.get_scheduler("polynomial", 10, 50, base_lr=0.1)
    assert ref[50] == pytest.approx(1e-7, rel=RTOL) == s(50) == s(59)  # lr_end defaults to 1e-7, not 0


def test_timm_multistep_milestone_applies_one_step_early() -> None:
    ref = golden("timm", "MultiStepLRScheduler", decay_t=[10, 25, 40])["lrs"]
    s = tm.MultiStepLRScheduler(decay_t=[10, 25, 40], decay_rate=0.1, base_lr=0.1)
    assert (s(8), s(9)) == (ref[8], ref[9]) == (0.1, pytest.approx(0.01, rel=RTOL))
    assert T.MultiStepLR(milestones=[10, 25, 40], gamma=0.1, base_lr=0.1)(9) == 0.1  # torch: at 10


def test_timm_warmup_without_prefix_replaces_the_first_steps() -> None:
    ref = golden("timm", "CosineLRScheduler", t_initial=50, warmup_t=5, lr_min=1e-3, warmup_prefix=None)["lrs"]
    pre = golden("timm", "CosineLRScheduler", t_initial=50, warmup_t=5, lr_min=1e-3, warmup_prefix=True)["lrs"]
    s = tm.CosineLRScheduler(t_initial=50, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4, base_lr=0.1)
    p = tm.CosineLRScheduler(
        t_initial=50, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4, warmup_prefix=True, base_lr=0.1
    )
    # the ramp climbs towards 0.1, then jumps onto the cosine where it is at step 5
    assert s(4) == pytest.approx(ref[4], rel=RTOL) and ref[4] < ref[5] < 0.1
    assert s(5) == pytest.approx(ref[5], rel=RTOL) == pytest.approx(1e-3 + 0.099 * (1 + np.cos(np.pi / 10)) / 2)
    assert p(5) == pytest.approx(pre[5], rel=RTOL) == 0.1  # as a prefix the cosine starts after it
    assert s(50) == pytest.approx(1e-3, rel=RTOL) and p(50) > 1e-3


def test_timm_tanh_first_step_runs_at_base_lr() -> None:
    ref = golden("timm", "TanhLRScheduler", t_initial=50)["lrs"]
    s = tm.TanhLRScheduler(t_initial=50, base_lr=0.1)
    curve_at_0 = 0.5 * 0.1 * (1 - np.tanh(-7.0))  # what the curve gives at 0: just below 0.1
    assert curve_at_0 < 0.1
    assert s(0) == ref[0] == 0.1  # the value timm's constructor sets
    assert s(1) == pytest.approx(ref[1], rel=RTOL)


def test_timm_factory_counts_cooldown_and_cycles_in_num_epochs() -> None:
    case = golden("timm", "create_scheduler_v2", sched="cosine", num_epochs=40, cooldown_epochs=10, min_lr=1e-4)
    s, n = tm.create_scheduler_v2(
        sched="cosine", num_epochs=40, warmup_epochs=5, warmup_lr=1e-5, min_lr=1e-4, cooldown_epochs=10, base_lr=0.1
    )
    assert n == case["num_epochs_returned"] == 50
    assert s(40) == s(49) == case["lrs"][45] == pytest.approx(1e-4, rel=RTOL)  # the cooldown holds min_lr
    cycles = golden("timm", "create_scheduler_v2", sched="cosine", num_epochs=10, cycle_mul=2.0, cycle_limit=3)
    s2, n2 = tm.create_scheduler_v2(sched="cosine", num_epochs=10, cycle_limit=3, cycle_mul=2.0, base_lr=0.1)
    assert n2 == cycles["num_epochs_returned"] == 70  # 10 + 20 + 40
    assert s2(10) == pytest.approx(cycles["lrs"][10], rel=RTOL) == pytest.approx(0.01, rel=RTOL)  # cycle_decay 0.1


def test_timm_per_update_is_the_per_epoch_curve_on_a_finer_clock() -> None:
    case = golden("timm", "create_scheduler_v2", sched="cosine", num_epochs=25, step_on_epochs=False)
    per_update, n = tm.create_scheduler_v2(
        sched="cosine", num_epochs=25, warmup_epochs=3, step_on_epochs=False, updates_per_epoch=10, base_lr=0.1
    )
    per_epoch, n_epochs = tm.create_scheduler_v2(sched="cosine", num_epochs=25, warmup_epochs=3, base_lr=0.1)
    assert n == n_epochs == case["num_epochs_returned"] == 25
    ref = np.asarray(case["lrs"])
    epochs = np.arange(25.0)
    np.testing.assert_allclose(per_epoch(epochs), ref[::10][:25], rtol=RTOL)
    assert per_update(15) == pytest.approx(ref[15], rel=RTOL)  # half way through epoch 1, inside the warmup


# -- what the modules refuse, and bad arguments ---------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: hf.get_scheduler("reduce_lr_on_plateau", base_lr=0.1),
        lambda: hf.get_scheduler("greedy", base_lr=0.1),
        lambda: hf.get_reduce_on_plateau_schedule(patience=3),
        lambda: tm.create_scheduler_v2(sched="plateau", base_lr=0.1),
        lambda: tm.PlateauLRScheduler(decay_rate=0.5),
    ],
    ids=["hf-plateau", "hf-greedy", "hf-function", "timm-factory", "timm-class"],
)
def test_metric_driven_schedulers_point_to_plateau(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match=r"lrlab\.plateau"):
        build()


BAD: list[tuple[Callable[[], Any], str, str]] = [
    (lambda: hf.get_scheduler("cosine_annealing", 0, 10, base_lr=0.1), "hf.get_scheduler", "name='cosine_annealing'"),
    (lambda: hf.get_scheduler("linear", num_training_steps=10, base_lr=0.1), "hf.get_scheduler", "num_warmup_steps="),
    (lambda: hf.get_scheduler("cosine", 5, base_lr=0.1), "hf.get_scheduler", "num_training_steps=None"),
    (
        lambda: hf.get_linear_schedule_with_warmup(-1, 10, base_lr=0.1),
        "hf.get_linear_schedule_with_warmup",
        "num_warmup_steps=-1",
    ),
    (
        lambda: hf.get_linear_schedule_with_warmup(2.5, 10, base_lr=0.1),
        "hf.get_linear_schedule_with_warmup",
        "num_warmup_steps=2.5",
    ),
    (
        lambda: hf.get_cosine_schedule_with_warmup(0, 10, base_lr=-0.1),
        "hf.get_cosine_schedule_with_warmup",
        "base_lr=-0.1",
    ),
    (
        lambda: hf.get_cosine_schedule_with_warmup(0, 10, num_cycles=0, base_lr=0.1),
        "hf.get_cosine_schedule_with_warmup",
        "num_cycles=0",
    ),
    (
        lambda: hf.get_polynomial_decay_schedule_with_warmup(0, 10, lr_end=0.2, base_lr=0.1),
        "hf.get_polynomial_decay_schedule_with_warmup",
        "lr_end=0.2",
    ),
    (
        lambda: hf.get_polynomial_decay_schedule_with_warmup(10, 10, base_lr=0.1),
        "hf.get_polynomial_decay_schedule_with_warmup",
        "num_training_steps=10",
    ),
    (lambda: hf.get_inverse_sqrt_schedule(0, timescale=0, base_lr=0.1), "hf.get_inverse_sqrt_schedule", "timescale=0"),
    (
        lambda: hf.get_cosine_with_min_lr_schedule_with_warmup(0, 10, base_lr=0.1),
        "hf.get_cosine_with_min_lr_schedule_with_warmup",
        "min_lr=None",
    ),
    (
        lambda: hf.get_cosine_with_min_lr_schedule_with_warmup(0, 10, min_lr=0.01, min_lr_rate=0.1, base_lr=0.1),
        "hf.get_cosine_with_min_lr_schedule_with_warmup",
        "min_lr_rate=0.1",
    ),
    (lambda: hf.get_wsd_schedule(5, 10, base_lr=0.1), "hf.get_wsd_schedule", "num_training_steps=None"),
    (lambda: hf.get_wsd_schedule(5, 10, 12, base_lr=0.1), "hf.get_wsd_schedule", "num_training_steps=12"),
    (lambda: hf.get_wsd_schedule(5, 10, 40, decay_type="exp", base_lr=0.1), "hf.get_wsd_schedule", "decay_type='exp'"),
    (
        lambda: hf.get_wsd_schedule(5, 10, 40, warmup_type="step", base_lr=0.1),
        "hf.get_wsd_schedule",
        "warmup_type='step'",
    ),
    (lambda: hf.get_wsd_schedule(5, 10, 40, min_lr_ratio=1.5, base_lr=0.1), "hf.get_wsd_schedule", "min_lr_ratio=1.5"),
    (lambda: tm.CosineLRScheduler(0, base_lr=0.1), "timm.CosineLRScheduler", "t_initial=0"),
    (
        lambda: tm.CosineLRScheduler(10, cycle_mul=0.5, cycle_limit=2, base_lr=0.1),
        "timm.CosineLRScheduler",
        "cycle_mul=0.5",
    ),
    (
        lambda: tm.CosineLRScheduler(10, cycle_decay=1.5, cycle_limit=2, base_lr=0.1),
        "timm.CosineLRScheduler",
        "cycle_decay=1.5",
    ),
    (lambda: tm.CosineLRScheduler(10, cycle_limit=0, base_lr=0.1), "timm.CosineLRScheduler", "cycle_limit=0"),
    (lambda: tm.CosineLRScheduler(10, k_decay=0, base_lr=0.1), "timm.CosineLRScheduler", "k_decay=0"),
    (
        lambda: tm.CosineLRScheduler(10, noise_range_t=[1, 2, 3], base_lr=0.1),
        "timm.CosineLRScheduler",
        "noise_range_t=[1, 2, 3]",
    ),
    (
        lambda: tm.CosineLRScheduler(10, noise_range_t=5, noise_pct=2.0, base_lr=0.1),
        "timm.CosineLRScheduler",
        "noise_pct=2.0",
    ),
    (lambda: tm.TanhLRScheduler(10, lb=3.0, ub=-7.0, base_lr=0.1), "timm.TanhLRScheduler", "lb=3.0"),
    (lambda: tm.StepLRScheduler(0, base_lr=0.1), "timm.StepLRScheduler", "decay_t=0"),
    (lambda: tm.MultiStepLRScheduler([30, 10], 0.5, base_lr=0.1), "timm.MultiStepLRScheduler", "decay_t=[30, 10]"),
    (lambda: tm.PolyLRScheduler(10, warmup_t=-1, base_lr=0.1), "timm.PolyLRScheduler", "warmup_t=-1"),
    (lambda: tm.WSDLRScheduler(10, 20, base_lr=0.1), "timm.WSDLRScheduler", "decay_t=20"),
    (lambda: tm.WSDLRScheduler(10, 5, decay_fn="exp", base_lr=0.1), "timm.WSDLRScheduler", "decay_fn='exp'"),
    (
        lambda: tm.WSDLRScheduler(10, 5, stable_fn="rsqrt", stable_timescale=2, lr_min=0.01, base_lr=0.1),
        "timm.WSDLRScheduler",
        "lr_min=0.01",
    ),
    (lambda: tm.create_scheduler_v2(sched="cosine_annealing", base_lr=0.1), "timm.create_scheduler_v2", "sched="),
    (
        lambda: tm.create_scheduler_v2(step_on_epochs=False, base_lr=0.1),
        "timm.create_scheduler_v2",
        "updates_per_epoch=0",
    ),
    (
        lambda: tm.create_scheduler_v2(sched="wsd", num_epochs=10, decay_epochs=20, base_lr=0.1),
        "timm.create_scheduler_v2",
        "decay_epochs=20",
    ),
]


@pytest.mark.parametrize(("build", "where", "named"), BAD, ids=[f"{w}-{n}" for _, w, n in BAD])
def test_bad_argument_is_named_with_its_value(build: Callable[[], Any], where: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)) as info:
        build()
    message = str(info.value)
    assert message.startswith(f"{where}: "), message
    name = named.split("=")[0]
    assert re.search(rf"{re.escape(name)}\S* must be .*; got {re.escape(name)}", message), message


def test_an_unknown_scheduler_specific_kwarg_is_a_type_error_as_in_transformers() -> None:
    with pytest.raises(TypeError, match="lr_min"):
        hf.get_scheduler("cosine", 0, 10, scheduler_specific_kwargs={"lr_min": 0.1}, base_lr=0.1)


# -- properties -----------------------------------------------------------------------------------------

rates = st.floats(min_value=1e-5, max_value=1.0)
warmups = st.integers(min_value=0, max_value=40)
spans = st.integers(min_value=1, max_value=200)


@settings(max_examples=40, deadline=None)
@given(lr=rates, warm=warmups, span=spans, cycles=st.sampled_from([0.5, 1.0, 1.5]), ratio=st.sampled_from([0.0, 0.1]))
def test_hf_get_scheduler_is_the_function_it_names(
    lr: float, warm: int, span: int, cycles: float, ratio: float
) -> None:
    total = warm + span
    kw = {"num_cycles": cycles, "min_lr_rate": ratio}
    by_name = hf.get_scheduler("cosine_with_min_lr", warm, total, scheduler_specific_kwargs=kw, base_lr=lr)
    direct = hf.get_cosine_with_min_lr_schedule_with_warmup(warm, total, cycles, min_lr_rate=ratio, base_lr=lr)
    assert by_name == direct
    assert hf.get_scheduler("linear", warm, total, base_lr=lr) == hf.get_linear_schedule_with_warmup(
        warm, total, base_lr=lr
    )


@settings(max_examples=40, deadline=None)
@given(lr=rates, warm=warmups, span=spans)
def test_hf_linear_warms_up_to_base_lr_and_ends_at_zero(lr: float, warm: int, span: int) -> None:
    s = hf.get_scheduler("linear", warm, warm + span, base_lr=lr)
    t = np.arange(warm + span + 10, dtype=np.float64)
    rates_ = s(t)
    assert np.all(rates_ >= 0)
    assert np.all(np.diff(rates_[: warm + 1]) >= 0) and np.all(np.diff(rates_[warm:]) <= 1e-18)
    assert s(warm) == pytest.approx(lr, rel=RTOL)
    assert s(warm + span) == pytest.approx(0.0, abs=ZERO_ATOL) and s(warm + span + 9) == 0.0
    if warm:
        assert s(0) == 0.0 and s(warm / 2) == pytest.approx(lr / 2, rel=RTOL)  # transformers: lr * t / warmup


@settings(max_examples=40, deadline=None)
@given(
    lr=rates,
    epochs=st.integers(min_value=2, max_value=30),
    per=st.integers(min_value=2, max_value=12),
    warm=st.integers(min_value=0, max_value=3),
    sched=st.sampled_from(["cosine", "tanh", "poly", "step"]),
)
def test_timm_per_update_meets_per_epoch_at_epoch_starts(
    lr: float, epochs: int, per: int, warm: int, sched: str
) -> None:
    """Stepping per update is the per-epoch schedule on a clock ``updates_per_epoch`` times finer."""
    common = {"sched": sched, "num_epochs": epochs, "warmup_epochs": warm, "decay_epochs": 2, "base_lr": lr}
    per_epoch, n1 = tm.create_scheduler_v2(**common)
    per_update, n2 = tm.create_scheduler_v2(**common, step_on_epochs=False, updates_per_epoch=per)
    assert n1 == n2
    e = np.arange(epochs + 3, dtype=np.float64)
    np.testing.assert_allclose(per_update(e * per)[1:], per_epoch(e)[1:], rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    pct=st.floats(min_value=0.05, max_value=1.0),
    std=st.floats(min_value=0.1, max_value=2.0),
    seed=st.integers(min_value=0, max_value=2**31),
    start=st.integers(min_value=0, max_value=30),
    length=st.integers(min_value=5, max_value=40),
)
def test_timm_noise_follows_timms_rule(pct: float, std: float, seed: int, start: int, length: int) -> None:
    kw = {"t_initial": 60, "lr_min": 1e-3, "noise_pct": pct, "noise_std": std, "noise_seed": seed, "base_lr": 0.1}
    clean = tm.CosineLRScheduler(60, lr_min=1e-3, base_lr=0.1)
    s = tm.CosineLRScheduler(noise_range_t=[start, start + length], **kw)
    t = np.arange(80, dtype=np.float64)
    ratio = s(t) / clean(t) - 1
    inside = (t >= max(start, 1)) & (t < start + length)  # t = 0 keeps the constructor's rate, as in timm
    assert np.all(ratio[~inside] == 0)
    assert np.all(np.abs(ratio[inside]) < pct)
    np.testing.assert_array_equal(s(t), lrlab.parse(str(s))(t))  # a function of t and the seed
    other = tm.CosineLRScheduler(noise_range_t=[start, start + length], **{**kw, "noise_seed": seed + 1})
    assert not np.array_equal(other(t)[inside], s(t)[inside])
