"""An experiment is a value: user models, data, losses, metrics and optimizers through the same trainer."""

from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import Dataset as TorchDataset  # noqa: E402

from fixtures_data import write_dataset  # noqa: E402
from lrlab.errors import ExperimentError, TrainError  # noqa: E402
from lrlab.lab.config import OptimizerSpec, TrainConfig  # noqa: E402
from lrlab.lab.data import load_dataset  # noqa: E402
from lrlab.lab.experiment import Data, Experiment, Metric, resolve_experiment  # noqa: E402
from lrlab.lab.experiments import BUILTIN  # noqa: E402
from lrlab.lab.store import read_results  # noqa: E402
from lrlab.lab.train import Run, Trainer, train  # noqa: E402

TIMING = {"seconds", "epoch_seconds", "run_id"}


pytestmark = pytest.mark.usefixtures("one_thread")


def numbers(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in rec.items() if k not in TIMING} for rec in history]


def blobs(n: int, seed: int) -> tuple[Any, Any]:
    """Two-class 2-d points: class k around (2k-1, 2k-1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.7 + (y[:, None] * 2 - 1).float()
    return x, y


def tiny_model(seed: int) -> nn.Module:
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


def tiny(**changes: Any) -> Experiment:
    options: dict[str, Any] = {
        "name": "blobs",
        "data": Data(train=blobs(96, 0), test=blobs(40, 1), description="96 + 40 blobs"),
        "model": tiny_model,
    }
    return Experiment(**{**options, **changes})


CFG = TrainConfig(epochs=2, batch_size=16)


# -- a user's experiment through the trainer -----------------------------------------------------------------
def test_a_user_experiment_trains_and_records_its_own_metrics() -> None:
    def error_rate(out: Any, y: Any) -> Any:
        return (out.argmax(1) != y).float().mean()

    exp = tiny(metrics={"acc": Metric(lambda o, y: (o.argmax(1) == y).sum(), "sum"), "error": error_rate})
    (o,) = train([Run("constant(0.5)", seed=1)], CFG, exp)
    last = o.history[-1]
    assert {"train_loss", "train_acc", "train_error", "test_loss", "test_acc", "test_error"} <= set(last)
    assert last["train_acc"] + last["train_error"] == pytest.approx(1.0)
    assert last["test_acc"] + last["test_error"] == pytest.approx(1.0)
    assert last["test_acc"] > 0.8  # the blobs are easy


def test_the_test_loss_is_the_mean_loss_over_the_test_set() -> None:
    exp = tiny()
    trainer = Trainer([Run("constant(0.3)")], CFG, exp)
    (o,) = trainer.run()
    x, y = exp.data.test  # type: ignore[union-attr]
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(o.model(x), y))
    assert o.history[-1]["test_loss"] == pytest.approx(expected, rel=1e-6)


def test_a_regression_without_test_data_records_the_training_loss_only() -> None:
    x = torch.linspace(-1, 1, 64)[:, None]
    exp = Experiment(
        name="line", data=Data(train=(x, 3 * x - 1)), model=lambda seed: nn.Linear(1, 1), loss=nn.MSELoss(), metrics={}
    )
    trainer = Trainer([Run("constant(0.1)")], TrainConfig(epochs=3, batch_size=8), exp)
    (o,) = trainer.run()
    assert [set(k for k in r if k.startswith(("train", "test"))) for r in o.history] == [{"train_loss"}] * 3
    assert o.history[-1]["train_loss"] < o.history[0]["train_loss"]
    assert trainer.results().job["experiment"]["goal"] == "min:train_loss"


def test_a_dataset_streams_the_same_batches_as_the_same_tensors() -> None:
    """Data that does not fit in memory go through a DataLoader in the seed's order: the same numbers."""
    x, y = blobs(90, 0)

    class Points(TorchDataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(y)

        def __getitem__(self, i: int) -> tuple[Any, Any]:
            return x[i], y[i]

    runs = [Run("cosine(0.5, steps=2)", 0), Run("constant(0.2)", 3)]
    in_memory = train(runs, CFG, tiny(data=Data(train=(x, y), test=blobs(30, 1))))
    streamed = train(runs, CFG, tiny(data=Data(train=Points(), test=blobs(30, 1))))
    for a, b in zip(in_memory, streamed, strict=True):
        assert numbers(a.history) == numbers(b.history)


def test_a_loader_factory_pairs_runs_by_seed() -> None:
    calls: list[tuple[int, int]] = []

    def loader(seed: int, epoch: int) -> list[tuple[Any, Any]]:
        calls.append((seed, epoch))
        x, y = blobs(64, 100 * seed + epoch)
        return [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]

    exp = tiny(data=Data(train=loader, test=blobs(30, 1)))
    runs = [Run("constant(0.3)", 0), Run("constant(0.3)", 0, label="again"), Run("constant(0.3)", 1)]
    a, b, c = train(runs, CFG, exp)
    assert numbers(a.history) == numbers(b.history)  # the same seed: the same batches
    assert numbers(a.history) != numbers(c.history)
    assert {(0, 1), (0, 2), (1, 1), (1, 2)} <= set(calls)


def test_the_optimizer_spec_builds_that_torch_optimizer() -> None:
    exp = tiny(optimizer="sgd(momentum=0.9, nesterov=True, weight_decay=0.0001)")
    trainer = Trainer([Run("constant(0.1)")], CFG, exp)
    opt = trainer.outcomes[0].optimizer
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"], group["lr"]) == (0.9, True, 1e-4, 0.1)
    adamw = Trainer([Run("constant(0.01)")], CFG.replace(optimizer="adamw(betas=[0.8, 0.99])"), exp)
    opt = adamw.outcomes[0].optimizer
    assert type(opt) is torch.optim.AdamW and opt.param_groups[0]["betas"] == (0.8, 0.99)
    assert opt.param_groups[0]["weight_decay"] == 0.01  # torch's default for AdamW
    assert adamw.identity()["config"]["optimizer"] == "adamw(betas=[0.8, 0.99])"


def test_an_optimizer_factory_gets_the_parameters_and_the_first_rate() -> None:
    seen: list[float] = []

    def rmsprop(params: Any, lr: float) -> Any:
        seen.append(lr)
        return torch.optim.RMSprop(params, lr=lr)

    (o,) = train([Run("warmup(constant(0.01), steps=1, start_lr=0.002)")], CFG, tiny(optimizer=rmsprop))
    assert set(seen) == {0.002} and type(o.optimizer) is torch.optim.RMSprop  # the check before training, the run
    assert [r["lr_first"] for r in o.history] == [0.002, 0.01]


def test_momentum_sgd_matches_a_plain_torch_loop() -> None:
    """The trainer adds nothing to the optimizer's arithmetic: a hand-written loop gives the same weights."""
    exp = tiny(optimizer="sgd(momentum=0.9)")
    (o,) = train([Run("constant(0.05)", seed=4)], TrainConfig(epochs=2, batch_size=32), exp)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        model = tiny_model(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(4)
    x, y = exp.data.train  # type: ignore[union-attr]
    for _ in range(2):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 32):
            idx = order[i : i + 32]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    for a, b in zip(model.parameters(), o.model.parameters(), strict=True):
        assert torch.equal(a, b)


# -- refusing what cannot work, before anything is written ----------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": lambda seed: nn.Linear(3, 2)}, "the model cannot take a batch of inputs of shape (2, 2)"),
        ({"model": lambda seed: nn.Linear(2, 1), "loss": nn.CrossEntropyLoss()}, "does not fit the loss"),
        ({"model": lambda seed: "not a module"}, "returned 'not a module', not a torch.nn.Module"),
        ({"loss": lambda out, y: out.sum(1)}, "the loss must give one number"),
        ({"metrics": {"acc": lambda out, y: out[:, 5]}}, "metric 'acc' fails on the model's output"),
        ({"optimizer": lambda params, lr: "sgd"}, "its optimizer factory returned 'sgd', not a torch optimizer"),
        ({"data": lambda: 7}, "its data function returned 7, not a lrlab.Data"),
    ],
)
def test_a_broken_experiment_is_refused_before_training(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    out = tmp_path / "job"
    with pytest.raises(ExperimentError) as info:
        Trainer([Run("constant(0.1)")], CFG, tiny(**changes), out=out)
    assert "experiment 'blobs'" in str(info.value) and message in str(info.value)
    assert not out.exists()


def test_bad_experiment_values_name_the_field() -> None:
    with pytest.raises(ExperimentError, match="name must be a non-empty string"):
        tiny(name="")
    with pytest.raises(ExperimentError, match="metric names must be identifiers other than 'loss'"):
        tiny(metrics={"loss": lambda o, y: o.sum()})
    with pytest.raises(
        ExperimentError,
        match="optimizer must be one of 'sgd', 'adamw', 'adam', 'schedulefree_sgd', 'schedulefree_adamw'; "
        "got optimizer='lion'",
    ):
        tiny(optimizer="lion")
    with pytest.raises(TrainError, match="sgd\\(\\) has no option 'momentun'; did you mean 'momentum'"):
        OptimizerSpec.parse("sgd(momentun=0.9)")


# -- finding an experiment ------------------------------------------------------------------------------------
def test_every_built_in_experiment_resolves_and_trains_on_idx_data(tmp_path: Path) -> None:
    data = load_dataset(write_dataset(tmp_path / "d", n_train=64, n_test=20))
    assert {"fashion-mnist-lenet", "fashion-mnist-lenet-tf", "fashion-mnist-mlp"} <= set(BUILTIN)
    for name in BUILTIN:
        exp = resolve_experiment(name, data=data)
        assert exp.name == name
        (o,) = train([Run("constant(0.1)")], TrainConfig(epochs=1, batch_size=32), exp)
        assert math.isfinite(o.history[0]["train_loss"]) and o.history[0]["test_acc"] is not None


USER_MODULE = textwrap.dedent(
    """
    import torch
    from lrlab.lab.experiment import Data, Experiment

    def make_experiment(data=None):
        x = torch.randn(32, 2)
        return Experiment(name="from-" + __name__.split("_")[0], data=Data(train=(x, (x[:, 0] > 0).long())),
                          model=lambda seed: torch.nn.Linear(2, 2))

    def broken():
        raise RuntimeError("no GPU here")

    def wrong():
        return 42

    fixed = make_experiment()
    """
)


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "myexp.py"
    path.write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield path
    sys.modules.pop("myexp", None)


def test_a_user_experiment_by_module_or_by_file(user_module: Path) -> None:
    assert resolve_experiment("myexp:make_experiment").name == "from-myexp"
    assert resolve_experiment("myexp:fixed").name == "from-myexp"
    assert resolve_experiment(str(user_module)).name.startswith("from-")  # make_experiment by default
    assert resolve_experiment(f"{user_module}:fixed").name.startswith("from-")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("fashion-mnist-lenett", "unknown experiment 'fashion-mnist-lenett'; did you mean 'fashion-mnist-lenet'"),
        ("nosuchpackage.mod:make", "cannot import 'nosuchpackage.mod' (ModuleNotFoundError"),
        ("myexp:nothing", "'myexp' has no 'nothing'"),
        ("myexp:broken", "its factory raised RuntimeError: no GPU here"),
        ("myexp:wrong", "its factory returned 42, not a lrlab.Experiment"),
        ("/no/such/file.py", "no such file '/no/such/file.py'"),
    ],
)
def test_a_bad_experiment_reference_is_one_clear_error(user_module: Path, ref: str, message: str) -> None:
    with pytest.raises(ExperimentError) as info:
        resolve_experiment(ref)
    assert f"experiment {ref!r}" in str(info.value) or "unknown experiment" in str(info.value)
    assert message in str(info.value)


def test_data_goes_only_to_factories_that_take_it(user_module: Path) -> None:
    with pytest.raises(ExperimentError, match="a fixed Experiment; it takes no --data"):
        resolve_experiment("myexp:fixed", data="somewhere")
    with pytest.raises(ExperimentError, match="brings its own data"):
        resolve_experiment(tiny(), data="somewhere")


def test_the_job_records_the_experiment(tmp_path: Path) -> None:
    trainer = Trainer([Run("constant(0.1)")], CFG, tiny(description="blobs, 2-d"), out=tmp_path / "job")
    trainer.run()
    results = read_results(tmp_path / "job")
    record = results.job["experiment"]
    assert record["name"] == "blobs" and record["description"] == "blobs, 2-d"
    assert record["metrics"] == ["train_loss", "train_acc", "test_loss", "test_acc"]
    assert (record["train_examples"], record["test_examples"], record["goal"]) == (96, 40, "max:test_acc")
    assert results.job["identity"]["data"] == "96 + 40 blobs"
    assert results.runs[0].config["optimizer_text"] == "SGD (no momentum, no weight decay)"
    rows = (tmp_path / "job" / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[:5] == ["run_id", "label", "schedule", "seed", "epoch"]
    assert len(rows) == 3 and rows[2].split(",")[1:5] == ["constant(0.1)", "constant(0.1)", "0", "2"]
    np.testing.assert_allclose(
        [float(r.split(",")[5]) for r in rows[1:]], [e["train_loss"] for e in results.runs[0].epochs], rtol=1e-12
    )


def test_a_sweep_of_a_broken_experiment_writes_nothing(tmp_path: Path) -> None:
    from lrlab.sweeps.run import run_sweep
    from lrlab.sweeps.sweep import Sweep

    broken = tiny(model=lambda seed: nn.Linear(3, 2))
    sweep = Sweep("constant({lr})", grid={"lr": [0.1, 0.2]}, epochs=1, options={"batch_size": 16})
    with pytest.raises(ExperimentError, match="the model cannot take a batch"):
        run_sweep(sweep, tmp_path / "sweep", experiment=broken, quiet=True)
    assert not (tmp_path / "sweep").exists()
