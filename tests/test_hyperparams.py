"""Momentum and weight decay scheduled beside the rate: torch's own one-cycle and cyclic numbers, resume, optax, Keras.

The acceptance tests drive two real optimizers side by side, one by torch's
``OneCycleLR`` / ``CyclicLR`` and one by ``lrlab.torch.ScheduleLR`` fed the
compat call with the same arguments, and compare the ``lr`` and the momentum
(SGD's ``momentum``, Adam's ``betas[0]``) the optimizer holds before every update.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lrlab
from lrlab.errors import LrlabError
from lrlab.frameworks.hyperparams import Hyperparams

torch = pytest.importorskip("torch")
import lrlab.compat.torch as T  # noqa: E402

from lrlab.torch import ScheduleLR  # noqa: E402

RTOL = 1e-12  # torch computes in Python float64; lrlab's closed forms agree to rounding


def _momentum(opt: Any) -> float:
    group = opt.param_groups[0]
    return float(group["betas"][0]) if "betas" in group else float(group["momentum"])


def _optimizer(kind: str) -> Any:
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    if kind == "sgd":
        return torch.optim.SGD([p], lr=0.5, momentum=0.9)
    return torch.optim.Adam([p], lr=0.5, betas=(0.9, 0.999))


def _drive(opt: Any, sched: Any, n: int) -> tuple[list[float], list[float], Any]:
    """``n`` real updates; the lr and momentum before each, and the parameters after."""
    lrs, momenta = [], []
    (p,) = opt.param_groups[0]["params"]
    for k in range(n):
        lrs.append(float(opt.param_groups[0]["lr"]))
        momenta.append(_momentum(opt))
        p.grad = torch.full_like(p, 1.0 + 0.1 * k)
        opt.step()
        sched.step()
    return lrs, momenta, p.detach().clone()


def _twins(kind: str, theirs: Callable[[Any], Any], ours: Any, n: int) -> None:
    ref_opt, our_opt = _optimizer(kind), _optimizer(kind)
    ref = _drive(ref_opt, theirs(ref_opt), n)
    got = _drive(our_opt, ScheduleLR(our_opt, ours), n)
    np.testing.assert_allclose(got[0], ref[0], rtol=RTOL, atol=0, err_msg="lr")
    np.testing.assert_allclose(got[1], ref[1], rtol=RTOL, atol=0, err_msg="momentum")
    torch.testing.assert_close(got[2], ref[2], rtol=1e-9, atol=1e-12)  # so the two trainings are the same


def _one_cycle_args(rng: random.Random) -> dict[str, Any]:
    while True:
        base_m = rng.uniform(0.5, 0.9)
        args: dict[str, Any] = {
            "max_lr": rng.choice([0.01, 0.1, 1.0, 3.0]),
            "total_steps": rng.randint(5, 250),
            "pct_start": rng.uniform(0.05, 0.9),
            "anneal_strategy": rng.choice(["cos", "linear"]),
            "div_factor": rng.choice([1.0, 10.0, 25.0, rng.uniform(1, 100)]),
            "final_div_factor": rng.choice([1.0, 1e4, rng.uniform(1, 1e5)]),
            "three_phase": rng.random() < 0.5,
            "base_momentum": base_m,
            # torch does not order the two; lrlab follows it either way
            "max_momentum": rng.uniform(base_m, 0.99) if rng.random() < 0.9 else rng.uniform(0.0, base_m),
        }
        try:
            T.OneCycleLR(**args)
        except LrlabError:  # a phase without a step: torch divides by zero there
            continue
        return args


def _cyclic_args(rng: random.Random) -> dict[str, Any]:
    base_lr = rng.choice([0.0, 1e-4, 0.001, 0.05])
    base_m = rng.uniform(0.5, 0.9)
    return {
        "base_lr": base_lr,
        "max_lr": base_lr + rng.choice([0.0, 0.01, 0.1, rng.uniform(0, 2)]),
        "step_size_up": rng.choice([1, 2, 7, rng.randint(1, 40), rng.uniform(0.5, 30)]),
        "step_size_down": rng.choice([None, 3, rng.randint(1, 40), rng.uniform(0.5, 30)]),
        "mode": rng.choice(["triangular", "triangular2", "exp_range"]),
        "gamma": rng.choice([1.0, 0.99, rng.uniform(0.9, 1.0)]),
        "base_momentum": base_m,
        "max_momentum": rng.uniform(base_m, 0.99) if rng.random() < 0.9 else rng.uniform(0.0, base_m),
    }


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("seed", range(12))
def test_one_cycle_lr_and_momentum_equal_torchs_at_every_step(kind: str, seed: int) -> None:
    args = _one_cycle_args(random.Random(seed * 2 + (kind == "adam")))
    ours = T.OneCycleLR(**args)
    assert isinstance(ours, Hyperparams) and ours.momentum is not None
    # every update torch allows (its last step(), to total_steps, sets values no update uses)
    _twins(kind, lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, **args), ours, args["total_steps"])


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("seed", range(12))
def test_cyclic_lr_and_momentum_equal_torchs_at_every_step(kind: str, seed: int) -> None:
    args = _cyclic_args(random.Random(100 + seed * 2 + (kind == "adam")))
    ours = T.CyclicLR(**args)
    assert isinstance(ours, Hyperparams)
    _twins(kind, lambda opt: torch.optim.lr_scheduler.CyclicLR(opt, **args), ours, 300)


@pytest.mark.parametrize(
    "args",
    [
        {"max_lr": 0.1, "total_steps": 60, "three_phase": True},
        {"max_lr": 0.3, "total_steps": 101, "three_phase": True, "pct_start": 0.4, "anneal_strategy": "linear"},
    ],
)
def test_one_cycle_three_phase_is_exact(args: dict[str, Any]) -> None:
    _twins("sgd", lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, **args), T.OneCycleLR(**args), 60)


@pytest.mark.parametrize("mode", ["exp_range", "triangular2"])
def test_cyclic_exp_range_and_triangular2_are_exact_over_many_cycles(mode: str) -> None:
    args = {"base_lr": 0.001, "max_lr": 0.1, "step_size_up": 7, "step_size_down": 4, "mode": mode, "gamma": 0.995}
    _twins("sgd", lambda opt: torch.optim.lr_scheduler.CyclicLR(opt, **args), T.CyclicLR(**args), 1000)


def test_without_cycle_momentum_the_rate_alone_and_momentum_untouched() -> None:
    s = T.OneCycleLR(0.1, total_steps=50, cycle_momentum=False)
    assert isinstance(s, lrlab.Schedule)
    assert s == T.OneCycleLR(0.1, total_steps=50).lr  # type: ignore[union-attr]
    assert isinstance(T.CyclicLR(0.01, 0.1, 5, cycle_momentum=False), lrlab.Schedule)
    opt = _optimizer("sgd")
    lrs, momenta, _ = _drive(opt, ScheduleLR(opt, s), 50)
    assert momenta == [0.9] * 50
    assert lrs == [s(t) for t in range(50)]


def test_the_bundle_prints_and_parses_back() -> None:
    h = T.CyclicLR(0.01, 0.1, step_size_up=5)
    assert isinstance(h, Hyperparams)
    assert h.momentum == lrlab.parse("cyclic(0.8, max_lr=0.9, step_size=5, inverse=True)")
    assert Hyperparams.from_dict(h.to_dict()) == h
    assert Hyperparams(**{k: str(v) for k, v in h.items().items()}) == h
    assert h(3) == h.lr(3)  # still reads as the rate where a schedule was used
    assert str(h) == "lr=cyclic(0.01, max_lr=0.1, step_size=5), momentum=" + str(h.momentum)
    with pytest.raises(LrlabError, match=re.escape("Hyperparams.from_dict: data must be a dict with the key 'lr'")):
        Hyperparams.from_dict({"lr": "constant(0.1)", "beta": "constant(0.9)"})


# -- ScheduleLR's momentum= and weight_decay= ---------------------------------------------


def test_momentum_goes_to_sgd_momentum_and_to_adam_beta1() -> None:
    m = lrlab.linear(0.95, 0.85, steps=10)
    for kind in ("sgd", "adam"):
        opt = _optimizer(kind)
        lrs, momenta, _ = _drive(opt, ScheduleLR(opt, "constant(0.1)", momentum=m), 12)
        assert momenta == [m(t) for t in range(12)]
        assert lrs == [0.1] * 12
    adam = _optimizer("adam")
    ScheduleLR(adam, "constant(0.1)", momentum=m)
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)  # beta2 untouched


def test_weight_decay_is_absolute_and_spares_the_no_decay_group() -> None:
    a, b, c = (torch.nn.Parameter(torch.zeros(2)) for _ in range(3))
    opt = torch.optim.AdamW(
        [{"params": [a]}, {"params": [b], "weight_decay": 0.0}, {"params": [c], "weight_decay": 0.5}],
        lr=0.1,
        weight_decay=0.01,
    )
    wd = lrlab.cosine(0.1, steps=8, final_lr=0.001)
    sched = ScheduleLR(opt, "constant(0.1)", weight_decay=wd)
    for t in range(10):
        assert [g["weight_decay"] for g in opt.param_groups] == [wd(t), 0.0, wd(t)]
        opt.step()
        sched.step()
    per_group = ScheduleLR(opt, "constant(0.1)", weight_decay=[wd, "constant(0.2)", "constant(0.0)"])
    assert [g["weight_decay"] for g in opt.param_groups] == [wd(0), 0.2, 0.0]
    assert per_group.state_dict()["weight_decay"] == [str(wd), "constant(0.2)", "constant(0.0)"]


def test_a_hyperparams_value_brings_its_momentum_and_weight_decay() -> None:
    h = Hyperparams("cosine(0.1, steps=5)", momentum="constant(0.8)", weight_decay="linear(0.1, 0.0, steps=5)")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9, weight_decay=0.1)
    sched = ScheduleLR(opt, h)
    assert sched.momentum == [lrlab.constant(0.8)] and sched.weight_decay == [lrlab.linear(0.1, 0.0, steps=5)]
    for _ in range(3):
        opt.step()
        sched.step()
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (h.lr(3), 0.8, h.weight_decay(3))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: ScheduleLR(
                torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), "constant(0.1)", momentum=0.9
            ),
            "momentum must be a Schedule, a text spec or a dict spec; got momentum=0.9",
        ),
        (
            lambda: ScheduleLR(
                torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]), "constant(0.1)", momentum="constant(0.9)"
            ),
            "optimizer must be an optimizer with momentum or betas to schedule momentum; got optimizer='Adagrad'",
        ),
        (
            lambda: ScheduleLR(_optimizer("sgd"), T.OneCycleLR(0.1, total_steps=10), momentum="constant(0.9)"),
            "momentum must be None when the schedule is a Hyperparams value that has one",
        ),
        (
            lambda: ScheduleLR(_optimizer("sgd"), "constant(0.1)", weight_decay=["constant(0.1)"] * 2),
            "weight_decay must be one schedule or a list of 1 (one per param group)",
        ),
    ],
)
def test_bad_hyperparameter_arguments_are_named(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(LrlabError, match=re.escape(message)):
        build()


# -- exact resume ------------------------------------------------------------------------------


def _net(seed: int = 0) -> tuple[Any, Any, Any]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(32, 4)
    return model, x, x.sum(dim=1, keepdim=True)


def _train(model: Any, opt: Any, sched: Any, x: Any, y: Any, n: int) -> list[tuple[float, ...]]:
    """``n`` updates; (lr, momentum or beta1, weight_decay) of every group, read before each update."""
    seen = []
    for _ in range(n):
        seen.append(tuple(v for g in opt.param_groups for v in (g["lr"], _momentum(opt), g["weight_decay"])))
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    return seen


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_resume_with_momentum_and_weight_decay_is_exact(kind: str) -> None:
    total, k = 40, 17
    hyper = T.OneCycleLR(0.1, total_steps=total, three_phase=True)
    wd = "cosine(0.05, steps=40, final_lr=0.005)"

    def build(model: Any) -> tuple[Any, Any]:
        decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
        rest = [p for n, p in model.named_parameters() if not n.endswith("weight")]
        groups = [{"params": decay}, {"params": rest, "weight_decay": 0.0, "lr": 0.05}]
        if kind == "sgd":
            opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, weight_decay=0.05)
        else:
            opt = torch.optim.AdamW(groups, lr=0.1, weight_decay=0.05)
        return opt, ScheduleLR(opt, hyper, weight_decay=wd)

    model, x, y = _net()
    opt, sched = build(model)
    straight = _train(model, opt, sched, x, y, total)
    final = [p.detach().clone() for p in model.parameters()]

    model, x, y = _net()
    opt, sched = build(model)
    first = _train(model, opt, sched, x, y, k)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    model, _, _ = _net(seed=1)
    opt, sched = build(model)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    rest = _train(model, opt, sched, x, y, total - k)

    assert first + rest == straight
    assert straight[k][2] != 0 and straight[k][5] == 0.0  # the no-decay group kept 0 throughout
    for a, b in zip(model.parameters(), final, strict=True):
        assert torch.equal(a.detach(), b)
