"""lrlab.torch.ScheduleLR: a real torch LRScheduler driven by an lrlab schedule."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrlab
from strategies import any_schedule
from test_golden_core import TORCH_LAMBDAS

torch = pytest.importorskip("torch")
from lrlab.plateau import Plateau  # noqa: E402
from lrlab.torch import ScheduleLR  # noqa: E402

GOLDEN = Path(__file__).parent / "golden" / "torch.json"
SPEC = "warmup(cosine(0.1, steps=20, final_lr=0.001), steps=5)"


def _model_and_data(seed: int = 0) -> tuple[Any, Any, Any]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(32, 4)
    y = x.sum(dim=1, keepdim=True)
    return model, x, y


def _train(model: Any, opt: Any, sched: Any, x: Any, y: Any, steps: int) -> list[float]:
    """`steps` updates; the rate used by each update, read before ``opt.step()``."""
    used = []
    for _ in range(steps):
        used.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    return used


def _sgd(model: Any, lr: float = 0.1) -> Any:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def test_is_a_torch_scheduler_and_sets_schedule_zero_at_construction() -> None:
    s = lrlab.parse(SPEC)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    sched = ScheduleLR(opt, s)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert opt.param_groups[0]["lr"] == s(0) == sched.get_last_lr()[0]
    assert sched.last_epoch == 0


@pytest.mark.parametrize("schedule", [SPEC, lrlab.parse(SPEC), lrlab.parse(SPEC).to_dict()])
def test_rates_follow_the_schedule_at_every_step(schedule: Any) -> None:
    s = lrlab.parse(SPEC)
    model, x, y = _model_and_data()
    opt = _sgd(model)
    sched = ScheduleLR(opt, schedule)
    used = _train(model, opt, sched, x, y, 40)
    assert used == [s(t) for t in range(40)]
    assert sched.last_epoch == 40
    assert sched.get_last_lr() == [s(40)] == [g["lr"] for g in opt.param_groups]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_schedule, st.none() | st.integers(1, 7))
def test_every_schedule_is_followed_exactly(s: lrlab.Schedule, steps_per_epoch: int | None) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = ScheduleLR(opt, s, steps_per_epoch=steps_per_epoch)
    spe = steps_per_epoch or 1
    got = []
    for _ in range(300):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == [s(n / spe) for n in range(300)]


def test_checkpoint_and_resume_gives_the_same_rates_and_parameters() -> None:
    total, k = 30, 12
    model, x, y = _model_and_data()
    opt = _sgd(model)
    sched = ScheduleLR(opt, SPEC)
    straight = _train(model, opt, sched, x, y, total)
    final = [p.detach().clone() for p in model.parameters()]

    model, x, y = _model_and_data()
    opt = _sgd(model)
    sched = ScheduleLR(opt, SPEC)
    first = _train(model, opt, sched, x, y, k)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)
    del model, opt, sched

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    model, x, y = _model_and_data(seed=1)  # other weights: the checkpoint must replace them
    opt = _sgd(model, lr=0.7)
    sched = ScheduleLR(opt, "constant(0.7)")  # the checkpoint carries the schedule
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    with pytest.warns(UserWarning, match=re.escape(f"the state was made with schedule={SPEC}; this scheduler has")):
        sched.load_state_dict(saved["sched"])
    assert sched.last_epoch == k
    assert opt.param_groups[0]["lr"] == lrlab.parse(SPEC)(k)
    _, x, y = _model_and_data()
    rest = _train(model, opt, sched, x, y, total - k)

    assert first + rest == straight
    for a, b in zip(model.parameters(), final, strict=True):
        assert torch.equal(a.detach(), b)


def test_state_is_plain_data() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = ScheduleLR(opt, SPEC, steps_per_epoch=3, plateau=Plateau(patience=2))
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert json.loads(json.dumps(state)) == state
    assert lrlab.parse(state["schedule"]) == lrlab.parse(SPEC)


def test_resume_with_scheduler_built_after_optimizer_state() -> None:
    """Torch's other order: optimizer state (with initial_lr) loaded before the scheduler is built."""
    model, x, y = _model_and_data()
    opt = _sgd(model)
    sched = ScheduleLR(opt, SPEC)
    _train(model, opt, sched, x, y, 7)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    opt2 = _sgd(model, lr=0.3)
    opt2.load_state_dict(opt_state)
    sched2 = ScheduleLR(opt2, SPEC)
    sched2.load_state_dict(sched_state)
    assert [opt2.param_groups[0]["lr"]] == sched2.get_last_lr() == [lrlab.parse(SPEC)(7)]


def test_steps_per_epoch_steps_per_batch_in_fractional_epochs() -> None:
    s = lrlab.multi_factor(0.5, milestones=[2, 4], factor=0.1)
    per_batch = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    per_epoch = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    batch_sched = ScheduleLR(per_batch, s, steps_per_epoch=4)
    epoch_sched = ScheduleLR(per_epoch, s)
    for epoch in range(6):
        for batch in range(4):
            assert per_batch.param_groups[0]["lr"] == s(epoch + batch / 4)
            # a step schedule changes only at epoch boundaries: the same rate as per-epoch stepping
            assert per_batch.param_groups[0]["lr"] == per_epoch.param_groups[0]["lr"]
            per_batch.step()
            batch_sched.step()
        per_epoch.step()
        epoch_sched.step()
    smooth = lrlab.cosine(0.1, steps=3)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = ScheduleLR(opt, smooth, steps_per_epoch=5)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [smooth(0.2)]
    assert smooth(0.2) < smooth(0)


def _two_groups(lr0: float = 0.1, lr1: float = 0.01) -> Any:
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    return torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": lr1}], lr=lr0)


def test_one_schedule_keeps_the_groups_ratio() -> None:
    s = lrlab.cosine(0.2, steps=10)
    opt = _two_groups(0.1, 0.01)
    sched = ScheduleLR(opt, s)
    for t in range(12):
        lr0, lr1 = (g["lr"] for g in opt.param_groups)
        assert lr0 == s(t)
        assert lr1 == pytest.approx(s(t) * 0.01 / 0.1, rel=1e-15)
        opt.step()
        sched.step()


def test_one_schedule_per_group() -> None:
    s0, s1 = lrlab.cosine(0.2, steps=10), lrlab.parse("warmup(constant(0.05), steps=3)")
    opt = _two_groups()
    sched = ScheduleLR(opt, [s0, str(s1)])
    for t in range(12):
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr() == [s0(t), s1(t)]
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert state["schedule"] == [str(s0), str(s1)]


def test_tensor_learning_rates_are_filled_in_place() -> None:
    s = lrlab.cosine(0.01, steps=10)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=torch.tensor(0.01))
    sched = ScheduleLR(opt, s)
    for t in range(4):
        assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)
        assert float(opt.param_groups[0]["lr"]) == pytest.approx(s(t), rel=1e-6)
        opt.step()
        sched.step()


def test_plateau_scales_a_warmup_then_reduces() -> None:
    s = lrlab.parse("warmup(constant(0.1), steps=3)")
    plateau = Plateau(mode="min", factor=0.5, patience=1, min_lr=0.02)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = ScheduleLR(opt, s, plateau=plateau)
    losses = [1.0, 0.9, 0.8] + [0.8] * 9
    seen, reduced = [], []
    for epoch, loss in enumerate(losses):
        seen.append(opt.param_groups[0]["lr"])
        assert seen[-1] == min(s(epoch), max(s(epoch) * plateau.scale, 0.02))
        opt.step()
        sched.step()
        reduced.append(sched.step_metric(loss))
    # the warmup is untouched; from epoch 3 on no improvement: a reduction every 2 bad epochs
    assert seen == [s(0), s(1), s(2), s(3), s(4), 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02]
    # the reduction due after epoch 10 would change nothing (already at min_lr): skipped, as torch does
    assert [e for e, r in enumerate(reduced) if r] == [4, 6, 8]


def test_plateau_state_resumes() -> None:
    s = lrlab.constant(0.1)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = ScheduleLR(opt, s, plateau=Plateau(patience=0, factor=0.5))
    for loss in [1.0, 2.0, 3.0]:
        opt.step()
        sched.step()
        sched.step_metric(loss)
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched2 = ScheduleLR(opt2, s, plateau=Plateau())
    sched2.load_state_dict(torch.load(buffer, weights_only=True))
    assert sched2.plateau is not None
    assert sched2.plateau.state_dict() == sched.plateau.state_dict()  # type: ignore[union-attr]
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.025


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps_per_epoch": 0}, "steps_per_epoch must be an integer > 0; got steps_per_epoch=0"),
        ({"steps_per_epoch": 2.5}, "steps_per_epoch must be an integer > 0; got steps_per_epoch=2.5"),
        ({"schedule": 0.1}, "schedule must be a Schedule, a text spec or a dict spec; got schedule=0.1"),
        ({"schedule": ["constant(0.1)"] * 2}, "schedule must be one schedule or a list of 1"),
        ({"plateau": "min"}, "plateau must be a lrlab.plateau.Plateau or None; got plateau='min'"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    args: dict[str, Any] = {"schedule": "constant(0.1)", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        ScheduleLR(opt, **args)


def test_bad_spec_and_misuse() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(lrlab.SpecError):
        ScheduleLR(opt, "cosin(0.1, steps=10)")
    sched = ScheduleLR(opt, "constant(0.1)")
    with pytest.raises(ValueError, match=re.escape("epoch must be an integer >= 0")):
        sched.step(0.53)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plateau"):
        sched.step_metric(0.5)
    zero = _two_groups(0.0, 0.01)
    with pytest.raises(ValueError, match=re.escape("param_groups[0]['lr'] must be > 0")):
        ScheduleLR(zero, "constant(0.1)")


# -- agreement with the real torch numbers, through lrlab.compat.torch ----------------

# the repo's copy of the golden file, else the shared one beside the checkout
GOLDEN_FILES = [GOLDEN, Path(__file__).resolve().parents[2] / "shared" / "golden" / "torch.json"]


def _golden_cases() -> list[dict[str, Any]]:
    for path in GOLDEN_FILES:
        if path.exists():
            cases: list[dict[str, Any]] = json.loads(path.read_text())
            return cases
    return []


def _api_name(case: dict[str, Any]) -> str:
    match = re.match(r"torch\.optim\.lr_scheduler\.(\w+)\(", case["api"])
    assert match, case["api"]
    return match.group(1)


def _compat_schedule(compat: Any, name: str, params: dict[str, Any]) -> Any:
    """The compat call for a golden case: the scheduler's class name, its recorded arguments."""
    args = dict(params)  # OneCycleLR/CyclicLR: Hyperparams (rate and momentum), which ScheduleLR takes as it is
    if name == "LambdaLR" and args["lr_lambda"] in TORCH_LAMBDAS:
        # a Python function is no schedule: the core schedule that equals it (test_golden_core)
        return TORCH_LAMBDAS[args["lr_lambda"]](args["base_lr"])
    build = getattr(compat, name)
    if name == "SequentialLR":
        pieces = [
            _compat_schedule(
                compat, sub["class"], {**{k: v for k, v in sub.items() if k != "class"}, "base_lr": args["base_lr"]}
            )
            for sub in (args["warmup"], args["main"])
        ]
        return build(pieces, milestones=args["milestones"])  # type: ignore[no-any-return]
    if isinstance(args.get("lr_lambda"), str):  # MultiplicativeLR: a constant factor, recorded as source
        body = args["lr_lambda"].split(":", 1)[1].strip()
        args["lr_lambda"] = float(body)
    return build(**args)  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", _golden_cases(), ids=lambda c: f"{_api_name(c)}-{abs(hash(c['api'])) % 10_000:04d}")
def test_agrees_with_torch_golden_values_through_compat(case: dict[str, Any]) -> None:
    import lrlab.compat.torch as compat

    schedule = _compat_schedule(compat, _api_name(case), case["params"])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = ScheduleLR(opt, schedule)
    got = []
    for _ in range(case["n"]):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    # torch's chainable recursion drifts up to 3.6e-14 from the closed form (golden README)
    np.testing.assert_allclose(got, case["lrs"], rtol=1e-13, atol=1e-15)


# -- a bad or foreign state: one clear error, the scheduler unchanged ----------------------------


def _stepped(spec: str = SPEC, **kwargs: Any) -> tuple[Any, Any]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = ScheduleLR(opt, spec, **kwargs)
    for _ in range(4):
        opt.step()
        sched.step()
    return opt, sched


def _good_state() -> dict[str, Any]:
    _, sched = _stepped(SPEC, momentum="constant(0.85)", plateau=Plateau(patience=2))
    return sched.state_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"last_epoch": float("nan")},
            "state_dict['last_epoch'] must be an integer >= 0; got state_dict['last_epoch']=nan",
        ),
        ({"last_epoch": -3}, "state_dict['last_epoch'] must be an integer >= 0; got state_dict['last_epoch']=-3"),
        ({"last_epoch": float("inf")}, "got state_dict['last_epoch']=inf"),
        ({"last_epoch": "7"}, "state_dict['last_epoch'] must be an integer >= 0; got state_dict['last_epoch']='7'"),
        (
            {"version": 99},
            "state_dict['version'] must be 1 or 2 (a state from this or an earlier lrlab); got "
            "state_dict['version']=99",
        ),
        (
            {"schedule": 0.1},
            "state_dict['schedule'] must be a text spec or a list of text specs; got state_dict['schedule']=0.1",
        ),
        ({"schedule": "cosin(0.1, steps=5)"}, "state_dict['schedule'] must be a valid spec"),
        (
            {"schedule": [SPEC, SPEC]},
            "state_dict['schedule'] must be a valid spec for this optimizer's 1 param group(s)",
        ),
        (
            {"momentum": ["constant(0.9)"] * 3},
            "state_dict['momentum'] must be a valid spec for this optimizer's 1 param group",
        ),
        (
            {"base_lrs": [0.1, 0.2]},
            "state_dict['base_lrs'] must be a list of 1 finite rates >= 0 (one per param group)",
        ),
        ({"base_lrs": [float("nan")]}, "got state_dict['base_lrs']=[nan]"),
        (
            {"steps_per_epoch": 0},
            "state_dict['steps_per_epoch'] must be an integer >= 1; got state_dict['steps_per_epoch']=0",
        ),
        (
            {"_step_count": True},
            "state_dict['_step_count'] must be an integer >= 1; got state_dict['_step_count']=True",
        ),
        ({"weight_decay_groups": [1]}, "state_dict['weight_decay_groups'] must be a list of 1 booleans"),
        ({"plateau": {"mode": "min"}}, "state_dict['plateau'] must be a Plateau state"),
        ({"last_epoch": None}, "state_dict['last_epoch'] must be an integer >= 0; got state_dict['last_epoch']=None"),
    ],
)
def test_a_bad_state_raises_one_clear_error_and_changes_nothing(change: dict[str, Any], message: str) -> None:
    opt, sched = _stepped("cosine(0.2, steps=30)", momentum="linear(0.9, 0.8, steps=30)")
    before, groups = sched.state_dict(), [dict(g) for g in opt.param_groups]
    bad = {**_good_state(), **change}
    with pytest.raises(lrlab.ScheduleError, match=re.escape(message)):
        sched.load_state_dict(bad)
    assert sched.state_dict() == before
    assert [dict(g) for g in opt.param_groups] == groups
    opt.step()
    sched.step()  # still works, on its own schedule
    assert opt.param_groups[0]["lr"] == lrlab.cosine(0.2, steps=30)(5)


@pytest.mark.parametrize("key", ["version", "schedule", "last_epoch"])
def test_a_state_missing_a_key_names_it(key: str) -> None:
    _, sched = _stepped()
    before = sched.state_dict()
    state = _good_state()
    del state[key]
    with pytest.raises(lrlab.ScheduleError, match=re.escape(f"state_dict[{key!r}] must be present")):
        sched.load_state_dict(state)
    with pytest.raises(lrlab.ScheduleError, match=re.escape("state_dict must be a dict from ScheduleLR.state_dict()")):
        sched.load_state_dict([("last_epoch", 3)])  # type: ignore[arg-type]
    assert sched.state_dict() == before


def test_a_state_of_another_schedule_warns_or_is_refused_when_strict() -> None:
    other = "cosine(0.3, steps=9)"
    state = _stepped(other)[1].state_dict()
    _, sched = _stepped()
    before = sched.state_dict()
    with pytest.raises(
        lrlab.ScheduleError, match=re.escape(f"made with schedule={other}; this scheduler has schedule={SPEC}")
    ):
        sched.load_state_dict(state, strict=True)
    assert sched.state_dict() == before
    with pytest.warns(UserWarning, match=re.escape(f"made with schedule={other}; this scheduler has schedule={SPEC}")):
        sched.load_state_dict(state)
    assert sched.schedule == lrlab.parse(other)  # resumed with the state's
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same schedules, written differently: no warning
        _stepped(other)[1].load_state_dict({**state, "schedule": "cosine(0.3, steps=9, final_lr=0.0)"}, strict=True)


def test_a_version_1_state_still_loads() -> None:
    _, sched = _stepped()
    state = sched.state_dict()
    old = {k: v for k, v in state.items() if k not in ("momentum", "weight_decay", "weight_decay_groups")}
    _, sched2 = _stepped()
    sched2.load_state_dict({**old, "version": 1}, strict=True)
    assert sched2.state_dict() == state
