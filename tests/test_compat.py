"""``lrlab.compat``: the peers' own calls give lrlab schedules with the peers' numbers.

Every golden case (``tests/golden/``) whose peer is a pure function of the step
is rebuilt here by the compat call a user would write -- the peer's name and
argument names, fed the case's ``params`` -- and must agree at ``rtol = 1e-12``
with the float64 rates (``lrs_float64`` where given, else ``lrs``), with
``s(t)`` the rate of update ``t`` counting from 0.

Skipped, on purpose and listed in `SKIPPED` (the list is checked):

* torch ``LambdaLR`` (2 cases): an arbitrary Python function of the epoch,
  which compat cannot take (``test_golden_core`` draws both with core families);
* the Keras ``LearningRateScheduler`` callback whose function reads the current
  lr (``lr * exp(-0.1)``): it is a recursion, not a function of the epoch
  (``test_golden_core`` checks its closed form).

The other two callback cases are pure functions of the epoch and are covered:
one by the core schedule a user writes for it, one by ``compat.keras.ExponentialDecay``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrlab
from lrlab import Schedule
from lrlab.compat import d2l as D
from lrlab.compat import keras as K
from lrlab.compat import mxnet as M
from lrlab.compat import optax as O
from lrlab.compat import torch as T
from lrlab.frameworks.hyperparams import Hyperparams

GOLDEN = Path(__file__).parent / "golden"
LIBRARIES = ("torch", "keras", "optax", "mxnet", "d2l")
RTOL = 1e-12
# Where a peer's rate is exactly 0.0 (a cosine's 1 + cos(pi), a poly's 1 - T/T), lrlab's
# equivalent arithmetic may leave ~1e-17 of rounding; no relative test applies there.
ZERO_ATOL = 1e-15


@cache
def cases(library: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((GOLDEN / f"{library}.json").read_text())
    return data


def api_name(case: dict[str, Any]) -> str:
    return str(case["api"]).split("(", 1)[0].rsplit(".", 1)[-1]


def reference(case: dict[str, Any]) -> np.ndarray:
    return np.asarray(case.get("lrs_float64", case["lrs"]), dtype=np.float64)


def assert_agrees(got: np.ndarray, ref: np.ndarray, what: str = "") -> None:
    zero = ref == 0
    np.testing.assert_allclose(got[zero], ref[zero], rtol=0, atol=ZERO_ATOL, err_msg=what)
    np.testing.assert_allclose(got[~zero], ref[~zero], rtol=RTOL, atol=0, err_msg=what)


# -- the compat call for each golden case, from its params ------------------------------------


def without(p: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in keys}


def torch_call(case: dict[str, Any]) -> Schedule:
    api, p = api_name(case), case["params"]
    if api == "SequentialLR":
        lr = p["base_lr"]
        first = getattr(T, p["warmup"]["class"])(**without(p["warmup"], "class"), base_lr=lr)
        second = getattr(T, p["main"]["class"])(**without(p["main"], "class"), base_lr=lr)
        return T.SequentialLR(schedulers=[first, second], milestones=p["milestones"])
    if api == "MultiplicativeLR":
        # torch: lr_lambda=lambda t: 0.95 -- compat takes the constant factor itself
        assert p["lr_lambda"] == "lambda t: 0.95"
        return T.MultiplicativeLR(lr_lambda=0.95, base_lr=p["base_lr"])
    if api in ("OneCycleLR", "CyclicLR"):
        # with torch's cycle_momentum these give Hyperparams (rate and momentum); the golden file records the rate
        h = getattr(T, api)(**p)
        assert isinstance(h, Hyperparams) and h.momentum is not None
        return h.lr
    return getattr(T, api)(**p)


def optax_call(case: dict[str, Any]) -> Schedule:
    api, p = api_name(case), dict(case["params"])
    if "boundaries_and_scales" in p:  # JSON wrote the int keys as strings
        p["boundaries_and_scales"] = {int(k): v for k, v in p["boundaries_and_scales"].items()}
    if api == "join_schedules":
        pieces = [getattr(O, q["fn"])(**without(q, "fn")) for q in p["schedules"]]
        return O.join_schedules(pieces, p["boundaries"])
    return getattr(O, api)(**p)


#: the two callback cases that are pure functions of the epoch, by their schedule's source
KERAS_CALLBACKS: dict[str, Callable[[], Schedule]] = {
    # no compat call takes the user's lambda; this is what the user writes instead
    "0.1 * 0.5 ** (epoch // 10)": lambda: lrlab.factor(0.1, factor=0.5, every=10),
    "float(ExponentialDecay(0.1, 10, 0.5)(epoch))  (1-arg, old API path)": lambda: K.ExponentialDecay(0.1, 10, 0.5),
}


def keras_call(case: dict[str, Any]) -> Schedule:
    if case["unit"] == "epoch":
        return KERAS_CALLBACKS[case["params"]["schedule"]]()
    return getattr(K, api_name(case))(**case["params"])


CALLS: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    "torch": torch_call,
    "keras": keras_call,
    "optax": optax_call,
    "mxnet": lambda case: getattr(M, api_name(case))(**case["params"]),
    "d2l": lambda case: getattr(D, api_name(case))(**case["params"]),
}

SKIPPED: dict[tuple[str, int], str] = {
    ("torch", 19): "LambdaLR: an arbitrary Python function; see test_golden_core",
    ("torch", 20): "LambdaLR: an arbitrary Python function; see test_golden_core",
    ("keras", 19): "LearningRateScheduler recursing on the current lr; see test_golden_core",
}

ALL_CASES = [(lib, i) for lib in LIBRARIES for i in range(len(cases(lib)))]
COVERED = [item for item in ALL_CASES if item not in SKIPPED]


def case_id(item: tuple[str, int]) -> str:
    lib, i = item
    return f"{lib}-{i}-{api_name(cases(lib)[i])}"


def test_the_skip_list_is_exactly_the_non_functions_of_the_step() -> None:
    assert set(COVERED) | set(SKIPPED) == set(ALL_CASES)
    skipped = {(lib, i): cases(lib)[i] for lib, i in SKIPPED}
    assert sorted(api_name(c) for c in skipped.values()) == ["LambdaLR", "LambdaLR", "LearningRateScheduler"]
    assert "lr *" in cases("keras")[19]["params"]["schedule"]  # the recursive callback
    # every other LambdaLR-like or callback case is covered
    assert [api_name(cases(lib)[i]) for lib, i in COVERED].count("LearningRateScheduler") == 2
    assert len(COVERED) == 36 + 22 + 29 + 17 + 5 - 3


@pytest.mark.parametrize("item", COVERED, ids=case_id)
def test_compat_call_matches_the_golden_rates(item: tuple[str, int]) -> None:
    lib, i = item
    case = cases(lib)[i]
    s = CALLS[lib](case)
    t = np.arange(case["n"], dtype=np.float64)
    got = s(t)
    if case["unit"] == "epoch":
        # Keras callbacks: the file's float64 closed form, and Keras's float32 rates
        assert_agrees(got, np.asarray(case["closed_form_lrs"]), what=f"{case['api']} as {s}")
        np.testing.assert_allclose(got, case["lrs"], rtol=3e-7, atol=0)
    else:
        assert_agrees(got, reference(case), what=f"{case['api']} as {s}")


@pytest.mark.parametrize("item", COVERED, ids=case_id)
def test_compat_gives_an_ordinary_core_schedule(item: tuple[str, int]) -> None:
    lib, i = item
    s = CALLS[lib](cases(lib)[i])
    assert isinstance(s, Schedule)
    assert type(s) in lrlab.REGISTRY.values()
    assert lrlab.parse(str(s)) == s
    assert lrlab.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    t = np.arange(0.0, 70.0, 0.5)
    np.testing.assert_array_equal(lrlab.parse(str(s))(t), s(t))


# -- the peers' oddities, reproduced: golden examples a user would check by eye -----------------


def golden(lib: str, api: str, **params: Any) -> dict[str, Any]:
    found = [c for c in cases(lib) if api_name(c) == api and all(c["params"].get(k) == v for k, v in params.items())]
    assert len(found) == 1, (api, params, len(found))
    return found[0]


def test_keras_piecewise_boundary_keeps_the_old_value() -> None:
    ref = reference(golden("keras", "PiecewiseConstantDecay", boundaries=[15, 30]))
    s = K.PiecewiseConstantDecay([15, 30], [0.5, 0.25, 0.125])
    assert (s(15), s(16), s(30), s(31)) == (ref[15], ref[16], ref[30], ref[31]) == (0.5, 0.25, 0.25, 0.125)
    assert T.MultiStepLR([15, 30], 0.5, base_lr=0.5)(15) == 0.25  # torch changes at the boundary


def test_mxnet_never_uses_its_value_for_update_zero() -> None:
    ref = reference(golden("mxnet", "CosineScheduler", max_update=20, warmup_steps=5))
    s = M.CosineScheduler(max_update=20, base_lr=0.3, final_lr=0.01, warmup_steps=5)
    assert s(0) == pytest.approx(ref[0], rel=RTOL) == pytest.approx(0.3 / 5, rel=RTOL)  # not warmup_begin_lr = 0
    no_warmup = reference(golden("mxnet", "CosineScheduler", max_update=20, warmup_steps=None))
    assert M.CosineScheduler(20, base_lr=0.3, final_lr=0.01)(0) == pytest.approx(no_warmup[0], rel=RTOL)
    assert no_warmup[0] < 0.3  # already one step into the cosine


def test_d2l_factor_decays_before_its_first_use() -> None:
    ref = reference(golden("d2l", "FactorScheduler"))
    s = D.FactorScheduler(factor=0.9, stop_factor_lr=1e-2, base_lr=2.0)
    assert s(0) == ref[0] == pytest.approx(1.8, rel=RTOL)
    assert M.FactorScheduler(step=1, factor=0.9, stop_factor_lr=1e-2, base_lr=2.0)(0) == 2.0


def test_torch_cosine_climbs_back_after_t_max() -> None:
    ref = reference(golden("torch", "CosineAnnealingLR", T_max=20, eta_min=0.01))
    s = T.CosineAnnealingLR(T_max=20, eta_min=0.01, base_lr=0.3)
    assert s(20) == pytest.approx(0.01, rel=RTOL)
    assert s(21) == pytest.approx(ref[21], rel=RTOL) and ref[21] > 0.011
    assert s(40) == pytest.approx(ref[40], rel=RTOL) == pytest.approx(0.3, rel=RTOL)
    assert D.CosineScheduler(20, base_lr=0.3, final_lr=0.01)(40) == 0.01  # d2l holds


def test_keras_polynomial_cycle_does_not_restart_at_the_initial_rate() -> None:
    ref = reference(golden("keras", "PolynomialDecay", decay_steps=20, cycle=True))
    s = K.PolynomialDecay(0.1, 20, end_learning_rate=0.001, power=2.0, cycle=True)
    assert s(20) == pytest.approx(0.001, rel=RTOL)
    # step 21: the horizon is 40 now, so (0.1 - 0.001) * (1 - 21/40) ** 2 + 0.001
    assert s(21) == pytest.approx(ref[21], rel=RTOL) == pytest.approx(0.099 * (19 / 40) ** 2 + 0.001, rel=RTOL)


def test_one_cycle_peaks_one_step_earlier_in_torch_than_in_optax() -> None:
    torch_ref = reference(golden("torch", "OneCycleLR", total_steps=60, anneal_strategy="cos", three_phase=False))
    optax_ref = reference(golden("optax", "cosine_onecycle_schedule", transition_steps=60))
    t = np.arange(60.0)
    torch_s, optax_s = T.OneCycleLR(0.1, total_steps=60, cycle_momentum=False), O.cosine_onecycle_schedule(60, 0.1)
    assert int(np.argmax(torch_s(t))) == int(np.argmax(torch_ref)) == 17
    assert int(np.argmax(optax_s(t))) == int(np.argmax(optax_ref)) == 18
    assert torch_s(59) == pytest.approx(0.1 / 25 / 1e4, rel=RTOL)  # torch ends at total_steps - 1
    assert optax_s(59) > 1e-4 and optax_s(60) == pytest.approx(0.1 / 25 / 1e4, rel=RTOL)


def test_optax_exponential_holds_through_transition_begin() -> None:
    ref = reference(golden("optax", "exponential_decay", transition_begin=15, staircase=True))
    s = O.exponential_decay(0.1, transition_steps=10, decay_rate=0.5, transition_begin=15, staircase=True)
    assert s(15) == s(24) == ref[24] == pytest.approx(0.1, rel=RTOL)
    assert s(25) == pytest.approx(ref[25], rel=RTOL) == pytest.approx(0.05, rel=RTOL)
    bounded = reference(golden("optax", "exponential_decay", end_value=0.01, transition_begin=5))
    b = O.exponential_decay(0.1, transition_steps=5, decay_rate=0.5, transition_begin=5, end_value=0.01)
    assert b(59) == bounded[59] == 0.01


def test_optax_piecewise_interpolate_starts_moving_at_zero() -> None:
    ref = reference(golden("optax", "piecewise_interpolate_schedule", interpolate_type="linear"))
    s = O.piecewise_interpolate_schedule("linear", 0.1, {10: 0.5, 30: 0.1, 45: 2.0})
    assert s(0) == 0.1 and s(5) == pytest.approx(ref[5], rel=RTOL) == pytest.approx(0.075, rel=RTOL)
    assert s(10) == pytest.approx(0.05, rel=RTOL) and s(59) == pytest.approx(0.01, rel=RTOL)


def test_horizon_with_or_without_the_warmup() -> None:
    keras_ref = reference(golden("keras", "CosineDecay", warmup_steps=10))
    optax_ref = reference(golden("optax", "warmup_cosine_decay_schedule", end_value=0.0, warmup_steps=10))
    k = K.CosineDecay(0.0, decay_steps=40, warmup_target=0.1, warmup_steps=10)  # 40 after the warmup
    o = O.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=10, decay_steps=50)  # 50 including it
    t = np.arange(60.0)
    assert_agrees(k(t), optax_ref)
    assert_agrees(o(t), keras_ref)


# -- branches the golden cases do not reach, against the peers' code re-typed here ----------------


def mxnet_factor_reference(step: int, factor: float, stop: float, base: float, warm: int, begin: float, mode: str):
    """MXNet 1.9 ``FactorScheduler.__call__``, stateful, called with num_update = 1, 2, ..."""
    state = {"base": base, "count": 0}

    def call(n: int) -> float:
        if n < warm:
            return begin + (base - begin) * n / warm if mode == "linear" else begin
        while n > state["count"] + step:
            state["count"] += step
            state["base"] = max(stop, state["base"] * factor)
        return state["base"]

    return [call(k + 1) for k in range(60)]


def mxnet_multifactor_reference(steps: list[int], factor: float, base: float, warm: int, begin: float, mode: str):
    """MXNet 1.9 ``MultiFactorScheduler.__call__``, stateful, called with num_update = 1, 2, ..."""
    state = {"base": base, "i": 0}

    def call(n: int) -> float:
        if n < warm:
            return begin + (base - begin) * n / warm if mode == "linear" else begin
        while state["i"] < len(steps) and n > steps[state["i"]]:
            state["i"] += 1
            state["base"] *= factor
        return state["base"]

    return [call(k + 1) for k in range(60)]


@pytest.mark.parametrize("mode", ["linear", "constant"])
@pytest.mark.parametrize(("step", "warm"), [(4, 10), (10, 5), (3, 3), (7, 1), (5, 2)])
def test_mxnet_factor_whose_warmup_outlasts_a_step(step: int, warm: int, mode: str) -> None:
    s = M.FactorScheduler(step, 0.5, 1e-4, base_lr=0.2, warmup_steps=warm, warmup_begin_lr=0.02, warmup_mode=mode)
    ref = mxnet_factor_reference(step, 0.5, 1e-4, 0.2, warm, 0.02, mode)
    np.testing.assert_allclose(s(np.arange(60.0)), ref, rtol=RTOL)


@pytest.mark.parametrize("mode", ["linear", "constant"])
def test_mxnet_multifactor_with_a_milestone_inside_the_warmup(mode: str) -> None:
    s = M.MultiFactorScheduler([4, 20], 0.1, base_lr=1.0, warmup_steps=8, warmup_begin_lr=0.1, warmup_mode=mode)
    ref = mxnet_multifactor_reference([4, 20], 0.1, 1.0, 8, 0.1, mode)
    np.testing.assert_allclose(s(np.arange(60.0)), ref, rtol=RTOL)


def test_torch_step_lr_may_grow() -> None:
    s = T.StepLR(step_size=3, gamma=1.5, base_lr=0.01)
    assert [s(t) for t in range(10)] == pytest.approx([0.01 * 1.5 ** (t // 3) for t in range(10)], rel=RTOL)


def test_a_piece_a_peer_never_runs_is_left_out() -> None:
    a, b, c = lrlab.constant(0.1), lrlab.linear(0.2, 0.0, steps=10), lrlab.constant(0.3)
    # optax.join_schedules: output = where(step < boundary, output, next(step - boundary)), in order
    assert O.join_schedules([a, b, c], [0, 5]) == lrlab.join([b, c], boundaries=[5])
    assert O.join_schedules([a, b, c], [5, 5]) == lrlab.join([a, c], boundaries=[5])
    assert T.SequentialLR([a, b], milestones=[0]) == b


def test_optax_warmup_to_a_peak_below_the_end_value_then_jumps() -> None:
    # decay_rate < 1 makes end_value a lower bound, and it is above the peak here
    s = O.warmup_exponential_decay_schedule(
        0.0, 0.05, warmup_steps=4, transition_steps=2, decay_rate=0.5, end_value=0.08
    )
    expected = [0.05 * t / 4 for t in range(4)] + [0.08] * 6  # optax: join(linear warmup, clipped decay)
    assert [s(t) for t in range(10)] == pytest.approx(expected, rel=RTOL)


def test_optax_upper_bound_also_caps_the_held_value() -> None:
    s = O.exponential_decay(0.02, transition_steps=1, decay_rate=2.0, transition_begin=3, end_value=0.01)
    assert [s(t) for t in range(6)] == [0.01] * 6


def test_keras_cosine_ignores_warmup_steps_without_a_target_and_vice_versa() -> None:
    assert K.CosineDecay(0.1, 40, warmup_steps=10) == K.CosineDecay(0.1, 40)
    assert K.CosineDecay(0.0, 40, warmup_target=0.2)(0) == 0.2


def test_keras_restarts_keep_alpha_as_the_floor_of_every_cycle() -> None:
    s = K.CosineDecayRestarts(0.1, 10, t_mul=1.0, m_mul=0.5, alpha=0.1)
    for cycle in range(4):
        start = 10 * cycle
        assert s(start) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5**cycle), rel=RTOL)
        assert s(start + 9.999999) == pytest.approx(0.01, rel=1e-9)


def test_d2l_multifactor_counts_a_repeated_step_once() -> None:
    s = D.MultiFactorScheduler(step=[10, 10, 20], factor=0.5, base_lr=1.0)
    assert [s(9), s(10), s(20)] == [1.0, 0.5, 0.25]


# -- bad arguments: ValueError naming the peer's argument and its value ---------------------------

BAD: list[tuple[Callable[[], Any], str, str]] = [
    (
        lambda: M.CosineScheduler(20, warmup_steps=5, warmup_mode="quadratic"),
        "mxnet.CosineScheduler",
        "warmup_mode='quadratic'",
    ),
    (lambda: M.FactorScheduler(0), "mxnet.FactorScheduler", "step=0"),
    (lambda: M.MultiFactorScheduler([15, 10]), "mxnet.MultiFactorScheduler", "step=[15, 10]"),
    (lambda: M.PolyScheduler(10, warmup_steps=10), "mxnet.PolyScheduler", "max_update=10"),
    (lambda: M.FactorScheduler(5, base_lr=0.1, warmup_begin_lr=0.2), "mxnet.FactorScheduler", "warmup_begin_lr=0.2"),
    (lambda: T.StepLR(step_size=0, base_lr=0.1), "torch.StepLR", "step_size=0"),
    (lambda: T.LinearLR(start_factor=0.0, base_lr=0.1), "torch.LinearLR", "start_factor=0.0"),
    (lambda: T.MultiplicativeLR(lr_lambda=lambda e: 0.95, base_lr=0.1), "torch.MultiplicativeLR", "lr_lambda=<"),
    (lambda: T.SequentialLR([lrlab.constant(0.1)], milestones=[5]), "torch.SequentialLR", "milestones=[5]"),
    (lambda: T.OneCycleLR(0.1), "torch.OneCycleLR", "total_steps=None"),
    (lambda: T.OneCycleLR(0.1, total_steps=10, pct_start=0.05), "torch.OneCycleLR", "pct_start=0.05"),
    (lambda: T.CyclicLR(0.1, 0.01), "torch.CyclicLR", "max_lr=0.01"),
    (
        lambda: T.CosineAnnealingWarmRestarts(10, T_mult=1.5, base_lr=0.1),
        "torch.CosineAnnealingWarmRestarts",
        "T_mult=1.5",
    ),
    (lambda: K.ExponentialDecay(0.1, 0, 0.5), "keras.ExponentialDecay", "decay_steps=0"),
    (lambda: K.PiecewiseConstantDecay([10], [0.1]), "keras.PiecewiseConstantDecay", "values=[0.1]"),
    (lambda: K.CosineDecayRestarts(0.1, 10, t_mul=0.5), "keras.CosineDecayRestarts", "t_mul=0.5"),
    (lambda: K.CosineDecayRestarts(0.1, 10, m_mul=2.0), "keras.CosineDecayRestarts", "m_mul=2.0"),
    # optax would log and quietly return a constant schedule for these three
    (lambda: O.exponential_decay(0.1, 0, 0.5), "optax.exponential_decay", "transition_steps=0"),
    (lambda: O.exponential_decay(0.1, 10, 0), "optax.exponential_decay", "decay_rate=0"),
    (lambda: O.linear_schedule(0.1, 0.0, 10, transition_begin=-1), "optax.linear_schedule", "transition_begin=-1"),
    (lambda: O.warmup_cosine_decay_schedule(0.0, 0.1, 10, 10), "optax.warmup_cosine_decay_schedule", "decay_steps=10"),
    (
        lambda: O.piecewise_interpolate_schedule("cubic", 0.1),
        "optax.piecewise_interpolate_schedule",
        "interpolate_type='cubic'",
    ),
    (lambda: O.join_schedules([lrlab.constant(0.1)], [5]), "optax.join_schedules", "boundaries=[5]"),
    (lambda: O.sgdr_schedule([{"decay_steps": 10, "peak": 0.1}]), "optax.sgdr_schedule", "cosine_kwargs[0]"),
    (lambda: D.CosineScheduler(5, warmup_steps=5), "d2l.CosineScheduler", "max_update=5"),
    (lambda: D.FactorScheduler(factor=1.1), "d2l.FactorScheduler", "factor=1.1"),
]


@pytest.mark.parametrize(("build", "where", "named"), BAD, ids=[f"{w}-{n}" for _, w, n in BAD])
def test_bad_argument_is_named_with_its_value(build: Callable[[], Any], where: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)) as info:
        build()
    message = str(info.value)
    assert message.startswith(f"{where}: ")
    name = named.split("=")[0]
    assert re.search(rf"{re.escape(name)}\S* must be .*; got {re.escape(name)}", message), message


# -- the same names as the peers ---------------------------------------------------------------


@pytest.mark.parametrize("name", T.__all__)
def test_torch_argument_names_are_torchs(name: str) -> None:
    import inspect

    sched = pytest.importorskip("torch.optim.lr_scheduler")
    ours = set(inspect.signature(getattr(T, name)).parameters) - {"base_lr"}
    theirs = set(inspect.signature(getattr(sched, name)).parameters)
    assert ours <= theirs


@pytest.mark.parametrize("name", O.__all__)
def test_optax_argument_names_are_optaxs(name: str) -> None:
    import inspect

    optax = pytest.importorskip("optax")
    ours = list(inspect.signature(getattr(O, name)).parameters)
    theirs = list(inspect.signature(getattr(optax, name)).parameters)
    assert ours == theirs


def test_compat_imports_no_framework() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lrlab.compat; "
        "bad = [m for m in ('torch', 'keras', 'jax', 'optax', 'mxnet', 'tensorflow') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
