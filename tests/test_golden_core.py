"""Golden values from the real libraries, drawn by lrlab's *core* schedules.

``tests/golden/*.json`` hold the rates that PyTorch, Keras, optax, MXNet and
the d2l chapter's classes produced (see ``tests/golden/SOURCE.md``). In every
file ``lrs[i]`` is the rate of the ``i``-th parameter update, counting from 0,
which is lrlab's ``t``. For each case this file writes out, by hand, which
core schedule draws the same curve from the peer's parameters; no compat
code is used here (that layer has ``test_compat.py``).

Agreement is ``rtol = 1e-12`` against float64 values: ``lrs_float64`` where
the file has them (Keras and optax compute in float32 by default), else
``lrs``. The Keras callback cases hold only float32 rates; they are checked
against the float64 closed form the file records, and against the float32
rates at float32 precision.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrlab
from lrlab import Schedule

GOLDEN = Path(__file__).parent / "golden"
LIBRARIES = ("torch", "keras", "optax", "mxnet", "d2l")
RTOL = 1e-12
# A peer's exact 0.0 (a cosine at its end, 1 + cos(pi); a poly at its horizon, 1 - T/T)
# may come out of lrlab's different but equivalent arithmetic as a few 1e-17 of
# rounding, where a relative test means nothing; 1e-15 is far below any rate in use.
ZERO_ATOL = 1e-15


@cache
def cases(library: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((GOLDEN / f"{library}.json").read_text())
    return data


def api_name(case: dict[str, Any]) -> str:
    """``torch.optim.lr_scheduler.StepLR(opt, ...)`` -> ``StepLR``."""
    return str(case["api"]).split("(", 1)[0].rsplit(".", 1)[-1]


def reference(case: dict[str, Any]) -> np.ndarray:
    return np.asarray(case.get("lrs_float64", case["lrs"]), dtype=np.float64)


def assert_agrees(got: np.ndarray, ref: np.ndarray, rtol: float = RTOL, what: str = "") -> None:
    zero = ref == 0
    np.testing.assert_allclose(got[zero], ref[zero], rtol=0, atol=ZERO_ATOL, err_msg=what)
    np.testing.assert_allclose(got[~zero], ref[~zero], rtol=rtol, atol=0, err_msg=what)


# -- torch: lrs[t] is the lr after t calls of scheduler.step() ------------------------------


def torch_one_cycle(p: dict[str, Any]) -> Schedule:
    """torch ends phase 1 at ``pct_start * total_steps - 1`` and the last phase at ``total_steps - 1``."""
    peak, total = p["max_lr"], p["total_steps"]
    initial = peak / p["div_factor"]
    low = initial / p["final_div_factor"]
    first = float(p["pct_start"] * total) - 1
    if p["three_phase"]:
        ends = [first, float(2 * p["pct_start"] * total) - 2, total - 1]
        levels = [initial, peak, initial, low]
    else:
        ends = [first, total - 1]
        levels = [initial, peak, low]
    starts = [0.0, *ends[:-1]]
    pieces: list[Schedule] = []
    for k in range(len(ends)):
        length, start, end = ends[k] - starts[k], levels[k], levels[k + 1]
        if p["anneal_strategy"] == "cos":
            pieces.append(lrlab.cosine(start, steps=length, final_lr=end))
        else:
            pieces.append(lrlab.linear(start, end, steps=length))
    return lrlab.join(pieces, boundaries=ends[:-1])


TORCH_LAMBDAS: dict[str, Callable[[float], Schedule]] = {
    # LambdaLR(lr_lambda=...) and MultiplicativeLR: one mapping per lambda's source
    "lambda t: 0.95 ** t": lambda lr: lrlab.exponential(lr, rate=0.95),
    # min(1, (t+1)/10) * 0.5 ** (t // 20): counting u = t + 1, a ramp to lr at u = 10,
    # then the step decay on the original clock t = u - 1 (so skipped by 9 at u = 10).
    "lambda t: min(1.0, (t + 1) / 10) * 0.5 ** (t // 20)": lambda lr: lrlab.skip(
        lrlab.join(
            [lrlab.linear(0.0, lr, steps=10), lrlab.skip(lrlab.factor(lr, factor=0.5, every=20), steps=9)],
            boundaries=[10],
        ),
        steps=1,
    ),
    # MultiplicativeLR multiplies by the lambda's value at every step after the first
    "lambda t: 0.95": lambda lr: lrlab.exponential(lr, rate=0.95),
}


def torch_piece(spec: dict[str, Any], lr: float) -> Schedule:
    if spec["class"] == "LinearLR":
        return lrlab.linear(lr * spec["start_factor"], lr * spec["end_factor"], steps=spec["total_iters"])
    assert spec["class"] == "CosineAnnealingLR"
    return lrlab.cosine_wave(lr, steps=spec["T_max"], final_lr=spec["eta_min"])


TORCH: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    "StepLR": lambda p: lrlab.factor(p["base_lr"], factor=p["gamma"], every=p["step_size"]),
    "MultiStepLR": lambda p: lrlab.multi_factor(p["base_lr"], milestones=p["milestones"], factor=p["gamma"]),
    "ExponentialLR": lambda p: lrlab.exponential(p["base_lr"], rate=p["gamma"]),
    # torch's cosine does not stop at T_max: it climbs back (period 2 * T_max)
    "CosineAnnealingLR": lambda p: lrlab.cosine_wave(p["base_lr"], steps=p["T_max"], final_lr=p["eta_min"]),
    "PolynomialLR": lambda p: lrlab.poly(p["base_lr"], steps=p["total_iters"], power=p["power"]),
    "LinearLR": lambda p: lrlab.linear(
        p["base_lr"] * p["start_factor"], p["base_lr"] * p["end_factor"], steps=p["total_iters"]
    ),
    "ConstantLR": lambda p: lrlab.piecewise_constant([p["total_iters"]], [p["base_lr"] * p["factor"], p["base_lr"]]),
    "LambdaLR": lambda p: TORCH_LAMBDAS[p["lr_lambda"]](p["base_lr"]),
    "MultiplicativeLR": lambda p: TORCH_LAMBDAS[p["lr_lambda"]](p["base_lr"]),
    # each later scheduler restarts at its own epoch 0 at the milestone: join's clock
    "SequentialLR": lambda p: lrlab.join(
        [torch_piece(p["warmup"], p["base_lr"]), torch_piece(p["main"], p["base_lr"])], boundaries=p["milestones"]
    ),
    "OneCycleLR": torch_one_cycle,
    "CyclicLR": lambda p: lrlab.cyclic(
        p["base_lr"],
        max_lr=p["max_lr"],
        step_size=p["step_size_up"],
        mode=p["mode"],
        gamma=p["gamma"],
        step_size_down=p["step_size_down"],
    ),
    "CosineAnnealingWarmRestarts": lambda p: lrlab.cosine_restarts(
        p["base_lr"], period=p["T_0"], period_mult=p["T_mult"], final_lr=p["eta_min"]
    ),
}

# -- keras: lrs[t] = schedule(t); optimizer.iterations is 0 at the first update ---------------


def keras_cosine(p: dict[str, Any]) -> Schedule:
    if p["warmup_target"] is None:
        return lrlab.cosine(
            p["initial_learning_rate"], steps=p["decay_steps"], final_lr=p["initial_learning_rate"] * p["alpha"]
        )
    target = p["warmup_target"]
    decay = lrlab.cosine(target, steps=p["decay_steps"], final_lr=target * p["alpha"])
    # decay_steps excludes the warmup
    return lrlab.warmup(decay, steps=p["warmup_steps"], start_lr=p["initial_learning_rate"])


def keras_restarts(p: dict[str, Any]) -> Schedule:
    # lr * (alpha + (1 - alpha) * m_mul**i * (1 + cos)/2): the height above alpha*lr shrinks
    lr, alpha = p["initial_learning_rate"], p["alpha"]
    waves = lrlab.cosine_restarts(
        lr * (1 - alpha), period=p["first_decay_steps"], period_mult=p["t_mul"], decay=p["m_mul"]
    )
    return lrlab.lifted(waves, by=lr * alpha)


KERAS: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    "ExponentialDecay": lambda p: lrlab.exponential(
        p["initial_learning_rate"], rate=p["decay_rate"], every=p["decay_steps"], staircase=p["staircase"]
    ),
    # step <= boundary keeps the old value
    "PiecewiseConstantDecay": lambda p: lrlab.piecewise_constant(p["boundaries"], p["values"], inclusive=True),
    "PolynomialDecay": lambda p: (lrlab.poly_cycle if p["cycle"] else lrlab.poly)(
        p["initial_learning_rate"], steps=p["decay_steps"], power=p["power"], final_lr=p["end_learning_rate"]
    ),
    "InverseTimeDecay": lambda p: lrlab.inverse_time(
        p["initial_learning_rate"], rate=p["decay_rate"], every=p["decay_steps"], staircase=p["staircase"]
    ),
    "CosineDecay": keras_cosine,
    "CosineDecayRestarts": keras_restarts,
}

# LearningRateScheduler callbacks: lrs[e] is the rate during epoch e; one mapping per schedule source
KERAS_CALLBACKS: dict[str, Schedule] = {
    # the callback runs at epoch begin, so the rate during epoch 10 is already decayed once
    "lr if epoch < 10 else lr * math.exp(-0.1)": lrlab.join(
        [lrlab.constant(0.01), lrlab.exponential(0.01, rate=math.exp(-0.1))], boundaries=[9]
    ),
    "0.1 * 0.5 ** (epoch // 10)": lrlab.factor(0.1, factor=0.5, every=10),
    "float(ExponentialDecay(0.1, 10, 0.5)(epoch))  (1-arg, old API path)": lrlab.exponential(0.1, rate=0.5, every=10),
}

# -- optax: lrs[t] = schedule(t); the count is 0 at the first update -----------------------------


def optax_exponential(init: float, p: dict[str, Any]) -> Schedule:
    """Held at ``init`` through ``transition_begin``; ``end_value`` bounds every value, held ones too."""
    rate, end = p["decay_rate"], p.get("end_value")
    decay: Schedule = lrlab.exponential(init, rate=rate, every=p["transition_steps"], staircase=p["staircase"])
    held = init
    if end is not None:
        decay = lrlab.clipped(decay, min_lr=end) if rate < 1 else lrlab.clipped(decay, max_lr=end)
        held = max(init, end) if rate < 1 else min(init, end)
    if p["transition_begin"] == 0:
        return decay
    return lrlab.join([lrlab.constant(held), decay], boundaries=[p["transition_begin"]])


def optax_interpolate(kind: str, init: float, knots: dict[int, float]) -> Schedule:
    """Through ``(0, init)`` and ``(b, init * product of the scales up to b)``, held after the last."""
    bounds = sorted(knots)
    values = [init]
    for b in bounds:
        values.append(values[-1] * knots[b])
    starts = [0, *bounds[:-1]]
    pieces: list[Schedule] = [
        lrlab.linear(values[k], values[k + 1], steps=bounds[k] - starts[k])
        if kind == "linear"
        else lrlab.cosine(values[k], steps=bounds[k] - starts[k], final_lr=values[k + 1])
        for k in range(len(bounds))
    ]
    return lrlab.join([*pieces, lrlab.constant(values[-1])], boundaries=bounds)


def optax_warmup_cosine(p: dict[str, Any]) -> Schedule:
    # decay_steps includes the warmup
    decay = lrlab.cosine(
        p["peak_value"],
        steps=p["decay_steps"] - p["warmup_steps"],
        final_lr=p["end_value"],
        exponent=p.get("exponent", 1.0),
    )
    return lrlab.warmup(decay, steps=p["warmup_steps"], start_lr=p["init_value"])


def optax_held(init: float, begin: float, after: Schedule) -> Schedule:
    return after if begin == 0 else lrlab.join([lrlab.constant(init), after], boundaries=[begin])


def int_keys(mapping: dict[str, float]) -> dict[int, float]:
    return {int(k): v for k, v in mapping.items()}


def optax_piecewise_constant(init: float, knots: dict[int, float]) -> Schedule:
    """From each boundary on, the rate is ``init`` times every scale up to it."""
    bounds = sorted(knots)
    values = [init]
    for b in bounds:
        values.append(values[-1] * knots[b])
    return lrlab.piecewise_constant(bounds, values)


def optax_sgdr(p: dict[str, Any]) -> Schedule:
    cycles = p["cosine_kwargs"]
    ends = np.cumsum([kw["decay_steps"] for kw in cycles]).tolist()
    return lrlab.join([optax_warmup_cosine(kw) for kw in cycles], boundaries=ends[:-1])


def optax_joined(p: dict[str, Any]) -> Schedule:
    linear, cosine, constant = p["schedules"]
    assert (linear["fn"], cosine["fn"], constant["fn"]) == (
        "linear_schedule",
        "cosine_decay_schedule",
        "constant_schedule",
    )
    return lrlab.join(
        [
            lrlab.linear(linear["init_value"], linear["end_value"], steps=linear["transition_steps"]),
            lrlab.cosine(
                cosine["init_value"], steps=cosine["decay_steps"], final_lr=cosine["init_value"] * cosine["alpha"]
            ),
            lrlab.constant(constant["value"]),
        ],
        boundaries=p["boundaries"],
    )


OPTAX: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    "constant_schedule": lambda p: lrlab.constant(p["value"]),
    "linear_schedule": lambda p: optax_held(
        p["init_value"],
        p["transition_begin"],
        lrlab.linear(p["init_value"], p["end_value"], steps=p["transition_steps"]),
    ),
    "polynomial_schedule": lambda p: optax_held(
        p["init_value"],
        p["transition_begin"],
        lrlab.poly(p["init_value"], steps=p["transition_steps"], power=p["power"], final_lr=p["end_value"]),
    ),
    "exponential_decay": lambda p: optax_exponential(p["init_value"], p),
    "cosine_decay_schedule": lambda p: lrlab.cosine(
        p["init_value"], steps=p["decay_steps"], final_lr=p["init_value"] * p["alpha"], exponent=p["exponent"]
    ),
    "warmup_constant_schedule": lambda p: lrlab.warmup(
        lrlab.constant(p["peak_value"]), steps=p["warmup_steps"], start_lr=p["init_value"]
    ),
    "warmup_cosine_decay_schedule": optax_warmup_cosine,
    # transition_begin counts from the end of the warmup: the decay runs on the warmup's inner clock
    "warmup_exponential_decay_schedule": lambda p: lrlab.warmup(
        optax_exponential(p["peak_value"], p), steps=p["warmup_steps"], start_lr=p["init_value"]
    ),
    "sgdr_schedule": optax_sgdr,
    # optax builds the one-cycles from piecewise_interpolate_schedule with these knots
    "linear_onecycle_schedule": lambda p: optax_interpolate(
        "linear",
        p["peak_value"] / p["div_factor"],
        {
            int(p["pct_start"] * p["transition_steps"]): p["div_factor"],
            int(p["pct_final"] * p["transition_steps"]): 1.0 / p["div_factor"],
            p["transition_steps"]: 1.0 / p["final_div_factor"],
        },
    ),
    "cosine_onecycle_schedule": lambda p: optax_interpolate(
        "cosine",
        p["peak_value"] / p["div_factor"],
        {
            int(p["pct_start"] * p["transition_steps"]): p["div_factor"],
            p["transition_steps"]: 1.0 / (p["div_factor"] * p["final_div_factor"]),
        },
    ),
    "piecewise_constant_schedule": lambda p: optax_piecewise_constant(
        p["init_value"], int_keys(p["boundaries_and_scales"])
    ),
    "piecewise_interpolate_schedule": lambda p: optax_interpolate(
        p["interpolate_type"], p["init_value"], int_keys(p["boundaries_and_scales"])
    ),
    "join_schedules": optax_joined,
}

# -- mxnet: lrs[k] = scheduler(num_update = k + 1), called in order ---------------------------
# MXNet counts updates from 1, so where its clock is num_update the schedule is skipped by one.


def mxnet_warmup_around(main: Schedule, p: dict[str, Any]) -> Schedule:
    """Factor/MultiFactor: the decay's clock is ``num_update - 1 = t`` and does not pause for the warmup.

    (In these cases the warmup ends before the first decay, so it ramps to ``base_lr``.)
    """
    warm = p.get("warmup_steps", 0)
    if warm == 0:
        return main
    ramp = lrlab.warmup(
        lrlab.skip(main, steps=warm - 1),
        steps=warm,
        start_lr=p.get("warmup_begin_lr", 0.0),
        mode=p.get("warmup_mode", "linear"),
    )
    return lrlab.skip(ramp, steps=1)


def mxnet_decay(decay: Schedule, p: dict[str, Any]) -> Schedule:
    """Poly/Cosine: warmup while ``num_update < warmup_steps``, then the decay on ``num_update - warmup_steps``."""
    warmed = lrlab.warmup(
        decay,
        steps=p.get("warmup_steps", 0),
        start_lr=p.get("warmup_begin_lr", 0.0),
        mode=p.get("warmup_mode", "linear"),
    )
    return lrlab.skip(warmed, steps=1)


MXNET: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    # decays once num_update > step, i.e. at t = step; stop_factor_lr defaults to 1e-8 in MXNet
    "FactorScheduler": lambda p: mxnet_warmup_around(
        lrlab.factor(p["base_lr"], factor=p["factor"], every=p["step"], min_lr=p.get("stop_factor_lr", 1e-8)), p
    ),
    "MultiFactorScheduler": lambda p: mxnet_warmup_around(
        lrlab.multi_factor(p["base_lr"], milestones=p["step"], factor=p["factor"]), p
    ),
    "PolyScheduler": lambda p: mxnet_decay(
        lrlab.poly(
            p["base_lr"], steps=p["max_update"] - p.get("warmup_steps", 0), power=p["pwr"], final_lr=p["final_lr"]
        ),
        p,
    ),
    "CosineScheduler": lambda p: mxnet_decay(
        lrlab.cosine(p["base_lr"], steps=p["max_update"] - p.get("warmup_steps", 0), final_lr=p["final_lr"]), p
    ),
}

# -- d2l: lrs[t] = scheduler(t), t = 0, 1, ... on one fresh instance ----------------------------

D2L: dict[str, Callable[[dict[str, Any]], Schedule]] = {
    "SquareRootScheduler": lambda p: lrlab.square_root(p["lr"]),
    # multiplies before answering: the first call is already base_lr * factor
    "FactorScheduler": lambda p: lrlab.skip(
        lrlab.factor(p["base_lr"], factor=p["factor"], every=1, min_lr=p["stop_factor_lr"]), steps=1
    ),
    "MultiFactorScheduler": lambda p: lrlab.multi_factor(p["base_lr"], milestones=p["step"], factor=p["factor"]),
    # max_update includes the warmup; t = 0 of the warmup is warmup_begin_lr itself
    "CosineScheduler": lambda p: lrlab.warmup(
        lrlab.cosine(p["base_lr"], steps=p["max_update"] - p["warmup_steps"], final_lr=p["final_lr"]),
        steps=p["warmup_steps"],
        start_lr=p["warmup_begin_lr"],
    ),
}

MAPPINGS: dict[str, dict[str, Callable[[dict[str, Any]], Schedule]]] = {
    "torch": TORCH,
    "keras": KERAS,
    "optax": OPTAX,
    "mxnet": MXNET,
    "d2l": D2L,
}

#: golden cases no core schedule draws -- none: every case has a mapping above
NOT_EXPRESSIBLE: dict[tuple[str, int], str] = {}

ALL_CASES = [(lib, i) for lib in LIBRARIES for i in range(len(cases(lib)))]
STEP_CASES = [(lib, i) for lib, i in ALL_CASES if cases(lib)[i]["unit"] == "step" and (lib, i) not in NOT_EXPRESSIBLE]
CALLBACK_CASES = [(lib, i) for lib, i in ALL_CASES if cases(lib)[i]["unit"] == "epoch"]


def case_id(item: tuple[str, int]) -> str:
    lib, i = item
    return f"{lib}-{i}-{api_name(cases(lib)[i])}"


def test_every_golden_case_is_checked_or_listed() -> None:
    assert len(ALL_CASES) == 36 + 22 + 29 + 17 + 5
    checked = set(STEP_CASES) | set(CALLBACK_CASES)
    assert checked | set(NOT_EXPRESSIBLE) == set(ALL_CASES)
    assert NOT_EXPRESSIBLE == {}
    assert [cases("keras")[i]["api"].split("(")[0] for _, i in CALLBACK_CASES] == [
        "keras.callbacks.LearningRateScheduler"
    ] * 3


@pytest.mark.parametrize("item", STEP_CASES, ids=case_id)
def test_core_schedule_matches_the_golden_rates(item: tuple[str, int]) -> None:
    lib, i = item
    case = cases(lib)[i]
    s = MAPPINGS[lib][api_name(case)](case["params"])
    ref = reference(case)
    assert_agrees(s(np.arange(len(ref), dtype=np.float64)), ref, what=f"{case['api']} as {s}")
    # the scalar path gives the same numbers
    assert [s(t) for t in range(len(ref))] == s(np.arange(len(ref), dtype=np.float64)).tolist()


@pytest.mark.parametrize("item", CALLBACK_CASES, ids=case_id)
def test_keras_callback_schedule_per_epoch(item: tuple[str, int]) -> None:
    lib, i = item
    case = cases(lib)[i]
    s = KERAS_CALLBACKS[case["params"]["schedule"]]
    epochs = np.arange(case["n"], dtype=np.float64)
    got = s(epochs)
    # the float64 closed form the golden file records for the callback
    assert_agrees(got, np.asarray(case["closed_form_lrs"]), what=str(s))
    # the rates Keras actually used, through its float32 optimizer variable (the recursive
    # callback drifts up to 2 float32 ulps, 1.4e-7, from float32 of the closed form)
    np.testing.assert_allclose(got, case["lrs"], rtol=3e-7, atol=0)


# -- a few facts a user would check by eye, straight from the files ---------------------------


def golden(lib: str, api: str, **params: Any) -> dict[str, Any]:
    """The one case of ``api`` whose params include ``params``."""
    found = [c for c in cases(lib) if api_name(c) == api and all(c["params"].get(k) == v for k, v in params.items())]
    assert len(found) == 1, (api, params, len(found))
    return found[0]


def test_step_decay_lands_on_the_milestone_except_in_keras() -> None:
    s = lrlab.multi_factor(0.5, milestones=[15, 30], factor=0.5)
    torch_rates = golden("torch", "MultiStepLR", milestones=[15, 30])["lrs"]
    assert (s(14), s(15), s(30)) == (torch_rates[14], torch_rates[15], torch_rates[30]) == (0.5, 0.25, 0.125)
    keras_rates = golden("keras", "PiecewiseConstantDecay", boundaries=[15, 30])["lrs_float64"]
    k = lrlab.piecewise_constant([15, 30], [0.5, 0.25, 0.125], inclusive=True)
    assert (k(15), k(16), k(30), k(31)) == (keras_rates[15], keras_rates[16], keras_rates[30], keras_rates[31])
    assert (k(15), k(16)) == (0.5, 0.25)


def test_d2l_cosine_with_warmup_is_warmup_around_a_cosine_at_every_step() -> None:
    case = golden("d2l", "CosineScheduler", warmup_steps=5)
    s = lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)
    assert s(0) == case["lrs"][0] == 0.0  # the chapter's warmup starts from a zero rate
    assert_agrees(s(np.arange(60.0)), reference(case))


def test_mxnet_is_d2l_one_update_later_for_cosine_and_one_earlier_for_factor() -> None:
    d2l_cos = reference(golden("d2l", "CosineScheduler", warmup_steps=0))
    mx_cos = reference(golden("mxnet", "CosineScheduler", max_update=20, warmup_steps=None))
    np.testing.assert_array_equal(mx_cos[:-1], d2l_cos[1:])
    d2l_factor = reference(golden("d2l", "FactorScheduler"))
    mx_factor = reference(golden("mxnet", "FactorScheduler", step=1))
    np.testing.assert_allclose(d2l_factor[:-1], mx_factor[1:], rtol=RTOL)
    assert mx_factor[0] == 2.0 and d2l_factor[0] == 1.8
