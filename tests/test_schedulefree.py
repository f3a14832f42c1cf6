"""Schedule-free SGD and AdamW (the `schedulefree` extra) as a baseline beside scheduled runs: "do I need a schedule?".

The expected numbers are hand computations from schedulefree 1.4.1's update rule (``SGDScheduleFree.step``):
with ``warmup_steps=0`` update k uses ``lr_k = group["lr"]`` (the schedule's), and the average's weight is
``lr_max_k ** 2`` where ``lr_max_k`` is the largest rate seen so far.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
schedulefree = pytest.importorskip("schedulefree")

import lrlab  # noqa: E402
from fixtures_data import write_dataset  # noqa: E402
from lrlab.cli import main  # noqa: E402
from lrlab.errors import TrainError  # noqa: E402
from lrlab.lab.config import OptimizerSpec, run_spec  # noqa: E402
from lrlab.lab.data import Dataset, load_dataset  # noqa: E402
from lrlab.lab.experiments.fashion_mnist import fashion_mnist_data  # noqa: E402
from lrlab.lab.store import read_results  # noqa: E402
from lrlab.lab.train import Listener, Run, TrainConfig, Trainer, train  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TIMING = {"seconds", "epoch_seconds", "run_id"}
WARMUP = "warmup(constant(0.1), steps=2)"  # 0, 0.05, then 0.1
SF_SGD = "schedulefree_sgd(momentum=0.9)"
BATCHES = 13  # 400 images in batches of 32


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("syn"), n_train=400, n_test=100)


@pytest.fixture(scope="module")
def small(syn: Path) -> Dataset:
    return load_dataset(syn)


def numbers(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in history]


# -- naming the optimizer --------------------------------------------------------------------------------------
def test_the_specs_name_schedule_free_sgd_and_adamw() -> None:
    sgd = OptimizerSpec.parse("schedulefree_sgd")
    assert sgd.kwargs == {"momentum": 0.9, "weight_decay": 0.0, "r": 0.0, "weight_lr_power": 2.0}
    assert sgd.module == "schedulefree" and sgd.torch_name == "SGDScheduleFree" and sgd.schedule_free
    assert sgd.describe() == "schedule-free SGD (momentum 0.9)"
    adamw = OptimizerSpec.parse("schedulefree_adamw(betas=[0.95, 0.99], weight_decay=0.05)")
    assert str(adamw) == "schedulefree_adamw(betas=[0.95, 0.99], weight_decay=0.05)"
    assert adamw.torch_name == "AdamWScheduleFree" and adamw.describe().startswith("schedule-free AdamW (betas")
    assert not OptimizerSpec.parse("sgd(momentum=0.9)").schedule_free
    with pytest.raises(TrainError, match=r"momentum must be in \(0, 1\).*got momentum=0.0"):
        OptimizerSpec.parse("schedulefree_sgd(momentum=0)")
    with pytest.raises(TrainError, match=r"momentum must be a finite number in \[0, 1\); got momentum=1.5"):
        OptimizerSpec.parse("schedulefree_sgd(momentum=1.5)")
    with pytest.raises(TrainError, match=r"schedulefree_sgd\(\) has no option 'warmup_steps'"):
        OptimizerSpec.parse("schedulefree_sgd(warmup_steps=5)")  # the schedule warms up


def test_a_run_spec_may_bring_a_label_and_its_own_optimizer() -> None:
    label, schedule, optimizer = run_spec(f"schedule-free={WARMUP} @ {SF_SGD}")
    assert (label, schedule, optimizer) == ("schedule-free", WARMUP, OptimizerSpec("schedulefree_sgd"))
    assert run_spec("cosine(0.1, steps=30, final_lr=0.01)") == ("", "cosine(0.1, steps=30, final_lr=0.01)", None)
    assert run_spec("constant(0.1)@adamw(weight_decay=0.05)")[2] == OptimizerSpec("adamw", weight_decay=0.05)
    with pytest.raises(TrainError, match=r"optimizer must be one of .*got optimizer='adamx'"):
        run_spec("constant(0.1) @ adamx")
    run = Run(WARMUP, 2, optimizer=SF_SGD)
    assert run.label == f"{WARMUP} @ schedulefree_sgd"  # the default label names the optimizer: groups stay apart
    assert run.identity() == {"label": run.label, "schedule": WARMUP, "seed": 2, "optimizer": "schedulefree_sgd"}
    assert Run(WARMUP, 2).identity() == {"label": WARMUP, "schedule": WARMUP, "seed": 2}  # as before: old jobs resume


def test_a_missing_package_says_how_to_install_it(
    small: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "schedulefree", None)  # import schedulefree -> ImportError
    with pytest.raises(TrainError, match=r"schedulefree_sgd needs the schedulefree package: pip install 'lrlab\["):
        Trainer([Run("constant(0.1)"), Run(WARMUP, optimizer=SF_SGD)], TrainConfig(epochs=1), data=small,
                out=tmp_path / "job")  # fmt: skip
    assert not (tmp_path / "job").exists()  # refused before anything was written


# -- training with it --------------------------------------------------------------------------------------------
class Watch(Listener):
    """After every batch: the rate the schedule-free optimizer used for its update (its own log of it)."""

    def __init__(self) -> None:
        self.used: list[float] = []
        self.trainer: Trainer | None = None

    def started(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def batch(self, epoch: int, index: int, batches: int | None) -> None:
        assert self.trainer is not None
        self.used.append(self.trainer.outcomes[-1].optimizer.param_groups[0]["scheduled_lr"])


@pytest.mark.parametrize(
    ("schedule", "rates"),
    [
        (WARMUP, [0.0, 0.05] + [0.1] * (BATCHES - 2)),
        # after the warmup a decaying schedule still sets every update's rate, but the average's weight stays
        # at the peak's (lr_max ** 2): the averaging does not follow the decay
        ("warmup(linear(0.1, end_lr=0.0, steps=10), steps=2)", [0.0, 0.05, *(0.1 - 0.01 * k for k in range(11))]),
    ],
)
def test_the_optimizer_is_schedulefrees_and_each_update_uses_the_schedules_rate(
    small: Dataset, schedule: str, rates: list[float]
) -> None:
    watch = Watch()
    trainer = Trainer([Run("constant(0.1)"), Run(schedule, optimizer=SF_SGD)],
                      TrainConfig(epochs=1, batch_size=32, per="step"), data=small, listener=watch)  # fmt: skip
    cosine, free = trainer.run()
    assert type(cosine.optimizer) is torch.optim.SGD  # the job's optimizer for the other run
    assert isinstance(free.optimizer, schedulefree.SGDScheduleFree)
    group = free.optimizer.param_groups[0]
    assert group["warmup_steps"] == 0 and group["momentum"] == 0.9 and group["k"] == BATCHES
    assert watch.used == pytest.approx(rates, abs=1e-12)
    assert free.history[0]["lr_first"] == 0.0 and free.history[0]["lr_last"] == pytest.approx(rates[-1])
    # weights 0 (rate 0), 0.05**2, then 0.1**2 for the other 11 updates, decaying schedule or not
    assert group["lr_max"] == pytest.approx(0.1)
    assert group["weight_sum"] == pytest.approx(0.05**2 + 11 * 0.1**2)


def test_evaluation_is_at_the_average_x_not_the_training_point_y(small: Dataset) -> None:
    trainer = Trainer([Run(WARMUP, optimizer=SF_SGD)], TrainConfig(epochs=2, batch_size=32), data=small)
    (o,) = trainer.run()
    assert not o.optimizer.param_groups[0]["train_mode"]  # the model is left at x, the point to use
    assert trainer.test_batches is not None

    def test_loss() -> float:
        with torch.no_grad():
            (x, y), *more = list(trainer.test_batches.batches())  # type: ignore[union-attr]
            assert not more
            return float(torch.nn.functional.cross_entropy(o.model(x), y))

    at_x = test_loss()
    assert o.history[-1]["test_loss"] == pytest.approx(at_x, rel=1e-6)
    x_params = [p.detach().clone() for p in o.model.parameters()]
    o.optimizer.train()  # type: ignore[attr-defined]
    y_params = [p.detach().clone() for p in o.model.parameters()]
    assert max(float((a - b).abs().max()) for a, b in zip(x_params, y_params, strict=True)) > 1e-4
    assert test_loss() != pytest.approx(at_x, rel=1e-6)  # the same weights at y would have scored otherwise


def test_a_schedule_free_run_leaves_the_other_runs_numbers_alone_fused_or_not(small: Dataset) -> None:
    config = TrainConfig(epochs=2, batch_size=32)
    alone = train([Run("cosine(0.3, steps=2)")], config, data=small)[0].history
    mixed = [Run("cosine(0.3, steps=2)"), Run(WARMUP, optimizer=SF_SGD)]
    plain = train(mixed, config, data=small, fused=False)
    assert numbers(plain[0].history) == numbers(alone)
    fused = train(mixed, config, data=small, fused=True)
    for p, f in zip(plain, fused, strict=True):
        for rp, rf in zip(p.history, f.history, strict=True):
            for key in ("train_loss", "test_loss", "lr_first", "lr_last"):
                assert rf[key] == pytest.approx(rp[key], abs=1e-3), key
        for a, b in zip(p.model.parameters(), f.model.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


def test_schedule_free_adamw_through_the_experiments_own_optimizer(syn: Path) -> None:
    images, labels = fashion_mnist_data(load_dataset(syn)).train
    images, labels = images[:200], labels[:200]
    experiment = lrlab.Experiment(
        name="linear",
        data=lrlab.Data(train=(images, labels), test=(images[:50], labels[:50])),
        model=lambda seed: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)),
        optimizer="schedulefree_adamw(weight_decay=0.01)",
    )
    result = lrlab.compare(["warmup(constant(0.01), steps=1)"], experiment=experiment, epochs=3, progress=False)
    (run,) = result.results.runs
    assert run.config["optimizer"] == "schedulefree_adamw(weight_decay=0.01)"
    assert run.config["optimizer_text"] == "schedule-free AdamW (betas [0.9, 0.999], weight_decay 0.01)"
    losses = run.series("train_loss")
    assert losses[-1] < losses[0] - 0.3  # it learns


@pytest.mark.slow  # about 30 s: two worker processes start and import torch
def test_worker_processes_train_each_runs_own_optimizer_to_the_same_numbers(small: Dataset) -> None:
    runs = [Run("cosine(0.3, steps=2)"), Run(WARMUP, optimizer=SF_SGD), Run("constant(0.003)", 1, optimizer="adamw")]
    config = TrainConfig(epochs=1, batch_size=32)
    here = train(runs, config, data=small, workers=1, threads=1)
    apart = train(runs, config, data=small, workers=2, threads=1)
    assert [type(o.optimizer).__name__ for o in here] == ["SGD", "SGDScheduleFree", "AdamW"]
    for a, b in zip(here, apart, strict=True):
        assert numbers(a.history) == numbers(b.history)
        for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
            assert torch.equal(pa, pb)  # the model comes back at x from the worker, as in-process


def test_a_factory_made_schedule_free_optimizer_is_switched_too(small: Dataset) -> None:
    data = fashion_mnist_data(small)
    experiment = lrlab.Experiment(
        name="factory",
        data=data,
        model=lambda seed: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)),
        optimizer=lambda params, lr: schedulefree.SGDScheduleFree(params, lr=lr, momentum=0.9),
    )
    (o,) = train([Run("constant(0.1)")], TrainConfig(epochs=2, batch_size=32), experiment)
    assert isinstance(o.optimizer, schedulefree.SGDScheduleFree) and o.optimizer.param_groups[0]["k"] == 2 * BATCHES
    assert not o.optimizer.param_groups[0]["train_mode"]  # put in train mode for the updates, eval mode after


# -- resume ---------------------------------------------------------------------------------------------------
class Interrupt(Listener):
    """Ctrl-C in the middle of epoch `epoch`."""

    def __init__(self, epoch: int) -> None:
        self.at = epoch

    def batch(self, epoch: int, index: int, batches: int | None) -> None:
        if epoch == self.at and index == (batches or 0) // 2:
            raise KeyboardInterrupt


@pytest.mark.parametrize("optimizer", [SF_SGD, "schedulefree_adamw"])
def test_an_interrupted_schedule_free_job_resumes_to_the_same_numbers(
    small: Dataset, tmp_path: Path, optimizer: str
) -> None:
    config = TrainConfig(epochs=3, batch_size=32, per="step")
    rate = "0.1" if optimizer == SF_SGD else "0.003"
    runs = [Run("cosine(0.3, steps=39)"), Run(f"warmup(constant({rate}), steps=5)", 0, optimizer=optimizer)]
    whole = train(runs, config, data=small, out=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(runs, config, data=small, out=tmp_path / "cut", listener=Interrupt(2))
    assert not read_results(tmp_path / "cut").complete
    resumed = train(runs, config, data=small, out=tmp_path / "cut", resume=True)
    for w, r in zip(whole, resumed, strict=True):
        assert numbers(w.history) == numbers(r.history)
        for pw, pr in zip(w.model.parameters(), r.model.parameters(), strict=True):
            assert torch.equal(pw, pr)
    sw, sr = whole[1].optimizer.state_dict(), resumed[1].optimizer.state_dict()
    assert sw["param_groups"][0]["weight_sum"] == sr["param_groups"][0]["weight_sum"]
    for a, b in zip(sw["state"].values(), sr["state"].values(), strict=True):
        assert torch.equal(a["z"], b["z"])


# -- from the command line and Python ---------------------------------------------------------------------------------
def test_cli_compare_puts_a_schedule_free_run_beside_a_cosine_run(
    syn: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    free = f"schedule-free={WARMUP} @ {SF_SGD}"
    argv = ["compare", "cosine(0.1, steps=2)", free, "--epochs", "2", "--batch-size", "64", "--seeds", "2"]
    assert main([*argv, "--data", str(syn), "--out", str(out), "--quiet"]) == 0  # the chapter's LeNet
    printed = capsys.readouterr().out
    conclusion = next(line for line in printed.splitlines() if "paired over the same 2 seeds" in line or "tie" in line)
    assert "cosine(0.1, steps=2)" in conclusion and "schedule-free" in conclusion
    results = read_results(out)
    assert results.job["experiment"]["name"] == "fashion-mnist-lenet"
    by_label = {label: runs[0].config for label, runs in results.by_label().items()}
    assert set(by_label) == {"cosine(0.1, steps=2)", "schedule-free"}
    assert (
        by_label["schedule-free"]["optimizer"] == "schedulefree_sgd"
        and "run_optimizer" not in by_label["cosine(0.1, steps=2)"]
    )
    assert by_label["cosine(0.1, steps=2)"]["optimizer"] == "sgd"
    job = json.loads((out / "job.json").read_text())
    assert job["identity"]["config"]["optimizer"] == "sgd"  # the job's optimizer is still the job's
    md = (out / "report.md").read_text()
    assert conclusion in md
    (row,) = [line for line in md.splitlines() if line.startswith("| schedule-free: ")]
    assert f"`{WARMUP}` with `schedulefree_sgd`" in row
    assert any(line.startswith("| `cosine(0.1, steps=2)` |") for line in md.splitlines())
    assert "schedule-free: schedule-free SGD (momentum 0.9)" in md  # the header names each run's optimizer

    # the folder alone resumes (the run's optimizer is part of its identity) and changes nothing
    before = (out / "metrics.jsonl").read_text()
    assert main(["compare", "--resume", "--out", str(out), "--data", str(syn), "--quiet", "--no-report"]) == 0
    assert (out / "metrics.jsonl").read_text() == before


def test_python_compare_takes_a_schedule_and_optimizer_pair(small: Dataset, tmp_path: Path) -> None:
    result = lrlab.compare(
        {"cosine": "cosine(0.1, steps=2)", "schedule-free": (WARMUP, SF_SGD)},
        data=small,
        epochs=1,
        batch_size=64,
        progress=False,
        out=tmp_path / "job",
        report=False,
    )
    runs = {run.label: run.config for run in result.results.runs}
    assert runs["schedule-free"]["optimizer"] == "schedulefree_sgd" and runs["cosine"]["optimizer"] == "sgd"
    assert {row["label"] for row in result.records("final")} == {"cosine", "schedule-free"}
    assert "schedule-free" in result.conclusion and "cosine" in result.conclusion
