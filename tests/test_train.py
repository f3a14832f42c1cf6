"""lrlab.lab.train on small synthetic data written as IDX files: what a user of the trainer relies on."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrlab  # noqa: E402
from fixtures_data import write_dataset  # noqa: E402
from lrlab.errors import TrainError  # noqa: E402
from lrlab.lab.data import Dataset, load_dataset  # noqa: E402
from lrlab.lab.experiments.fashion_mnist import fashion_mnist_data  # noqa: E402
from lrlab.lab.store import read_results  # noqa: E402
from lrlab.lab.train import Listener, Run, TrainConfig, Trainer, train  # noqa: E402

TIMING = {"seconds", "epoch_seconds"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """400 training and 100 test images: 13 batches of 32, the last one partial (16 images)."""
    return load_dataset(write_dataset(tmp_path_factory.mktemp("syn"), n_train=400, n_test=100))


def numbers(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Epoch records without timings and run ids: what must repeat exactly."""
    return [{k: v for k, v in rec.items() if k not in TIMING | {"run_id"}} for rec in history]


CFG = TrainConfig(epochs=2, batch_size=32)


def test_two_epochs_write_metrics_and_config(small: Dataset, tmp_path: Path) -> None:
    schedule = lrlab.parse("cosine(0.3, steps=2, final_lr=0.01)")
    (outcome,) = train([Run(schedule, seed=5, label="cos")], CFG, data=small, out=tmp_path / "job")
    assert [r["epoch"] for r in outcome.history] == [1, 2]
    for rec in outcome.history:
        assert 0 <= rec["train_acc"] <= 1 and 0 <= rec["test_acc"] <= 1
        assert math.isfinite(rec["train_loss"]) and rec["images"] == 400
    results = read_results(tmp_path / "job")
    assert results.complete
    (run,) = results.runs
    assert run.config["schedule"] == str(schedule) and run.config["seed"] == 5 and run.label == "cos"
    assert run.config["per"] == "epoch" and run.config["batch_size"] == 32 and run.config["epochs"] == 2
    assert run.config["experiment"] == "fashion-mnist-lenet" and run.config["optimizer"] == "sgd"
    assert run.config["lrlab"] == lrlab.__version__ and run.config["torch"] == torch.__version__
    assert run.config["run_id"]
    assert numbers(run.epochs) == numbers(outcome.history)
    job = json.loads((tmp_path / "job" / "job.json").read_text())
    assert job["identity"]["runs"] == [{"label": "cos", "schedule": str(schedule), "seed": 5}]


def test_it_learns(small: Dataset) -> None:
    (outcome,) = train([Run("constant(0.3)")], TrainConfig(epochs=4, batch_size=32), data=small)
    first, last = outcome.history[0], outcome.history[-1]
    assert last["train_loss"] < first["train_loss"] - 0.5
    assert last["test_acc"] > 0.5  # ten classes: chance is 0.1


def test_same_seed_same_numbers_other_seed_other_numbers(small: Dataset) -> None:
    runs = [Run("constant(0.2)", seed=1)]
    a = train(runs, CFG, data=small)[0].history
    b = train(runs, CFG, data=small)[0].history
    c = train([Run("constant(0.2)", seed=2)], CFG, data=small)[0].history
    assert numbers(a) == numbers(b)
    assert numbers(a) != numbers(c)


def test_a_run_does_not_depend_on_the_other_runs_of_its_job(small: Dataset) -> None:
    alone = train([Run("constant(0.2)", seed=3)], CFG, data=small)[0].history
    together = train([Run("cosine(0.4, steps=2)", seed=0), Run("constant(0.2)", seed=3)], CFG, data=small)[1].history
    assert numbers(alone) == numbers(together)


def test_per_epoch_rates_follow_the_schedule(small: Dataset) -> None:
    schedule = lrlab.parse("warmup(cosine(0.3, steps=2, final_lr=0.01), steps=2)")
    (o,) = train([Run(schedule)], TrainConfig(epochs=4, batch_size=32), data=small)
    for e, rec in enumerate(o.history):
        assert rec["lr_first"] == rec["lr_last"] == pytest.approx(schedule(e), abs=1e-15)
    assert o.history[0]["lr_first"] == 0.0  # the warmup's epoch 0 trains at 0, no one-epoch lag
    assert o.lr == pytest.approx(schedule(4))


def test_per_step_rates_follow_the_schedule_every_update(small: Dataset) -> None:
    schedule = lrlab.parse("cosine(0.3, steps=20, final_lr=0.01)")
    trainer = Trainer([Run(schedule)], TrainConfig(epochs=2, batch_size=32, per="step"), data=small)
    seen: list[float] = []
    optimizer = trainer.outcomes[0].optimizer
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    (o,) = trainer.run()
    batches = 13
    assert len(seen) == 2 * batches
    np.testing.assert_allclose(seen, schedule(np.arange(2 * batches)), rtol=0, atol=1e-15)
    assert o.history[1]["lr_first"] == pytest.approx(schedule(batches))
    assert o.history[1]["lr_last"] == pytest.approx(schedule(2 * batches - 1))


def test_fused_and_plain_give_the_same_numbers(small: Dataset) -> None:
    runs = [Run("constant(0.3)", 0), Run("cosine(0.5, steps=2)", 0), Run("constant(0.1)", 1)]
    plain = train(runs, CFG, data=small, fused=False)
    fused = train(runs, CFG, data=small, fused=True)
    for p, f in zip(plain, fused, strict=True):
        for rp, rf in zip(p.history, f.history, strict=True):
            for key in ("train_loss", "train_acc", "test_acc", "lr_first", "lr_last"):
                assert rf[key] == pytest.approx(rp[key], abs=2e-3), key
        for a, b in zip(p.model.parameters(), f.model.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


def test_channels_last_changes_only_rounding(small: Dataset) -> None:
    runs = [Run("constant(0.3)")]
    a = train(runs, CFG, data=small, channels_last=False)[0].history
    b = train(runs, CFG, data=small, channels_last=True)[0].history
    for ra, rb in zip(a, b, strict=True):
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], abs=1e-4)
        assert rb["test_acc"] == pytest.approx(ra["test_acc"], abs=0.02)


def test_a_diverging_run_is_stopped_and_the_others_go_on(small: Dataset, tmp_path: Path) -> None:
    runs = [Run("constant(0.3)", label="sane"), Run("constant(1e6)", label="huge")]
    sane, huge = train(runs, TrainConfig(epochs=3, batch_size=32), data=small, out=tmp_path / "job")
    assert huge.diverged_epoch == 1
    assert len(huge.history) == 1 and huge.history[0]["diverged"] and huge.history[0]["test_acc"] is None
    assert sane.diverged_epoch is None and len(sane.history) == 3
    assert all(math.isfinite(r["train_loss"]) for r in sane.history)
    results = read_results(tmp_path / "job")
    by_label = {r.label: r for r in results.runs}
    assert by_label["huge"].diverged_epoch == 1 and by_label["sane"].diverged_epoch is None
    lines = (tmp_path / "job" / "metrics.jsonl").read_text().splitlines()
    assert all("NaN" not in line and "Infinity" not in line for line in lines)  # strict JSON


def test_an_existing_job_is_not_overwritten(small: Dataset, tmp_path: Path) -> None:
    train([Run("constant(0.3)")], TrainConfig(epochs=1, batch_size=32), data=small, out=tmp_path)
    with pytest.raises(TrainError, match=r"already holds the results of job .* pass --resume"):
        Trainer([Run("constant(0.3)")], TrainConfig(epochs=1, batch_size=32), data=small, out=tmp_path)
    with pytest.raises(TrainError, match=r"holds a different job .*epochs=1, this one epochs=2"):
        Trainer([Run("constant(0.3)")], TrainConfig(epochs=2, batch_size=32), data=small, out=tmp_path, resume=True)


def test_resuming_a_finished_job_trains_nothing(small: Dataset, tmp_path: Path) -> None:
    runs = [Run("constant(0.3)")]
    first = train(runs, CFG, data=small, out=tmp_path)
    before = (tmp_path / "metrics.jsonl").read_text()
    again = train(runs, CFG, data=small, out=tmp_path, resume=True)
    assert (tmp_path / "metrics.jsonl").read_text() == before
    assert numbers(again[0].history) == numbers(first[0].history)


def test_bad_options_name_the_argument() -> None:
    with pytest.raises(lrlab.TrainError, match="per must be 'epoch' or 'step'; got per='batch'"):
        TrainConfig(per="batch")
    with pytest.raises(lrlab.TrainError, match="epochs must be an integer > 0; got epochs=0"):
        TrainConfig(epochs=0)
    with pytest.raises(lrlab.TrainError, match="seed must be an integer >= 0; got seed=-1"):
        Run("constant(0.1)", seed=-1)
    with pytest.raises(lrlab.TrainError, match="fused must be True, False or 'auto'"):
        train([Run("constant(0.1)")], CFG, data=Dataset(*(np.zeros((1,), np.uint8),) * 4, Path(".")), fused="yes")


def test_data_are_float_pixels_over_255(small: Dataset) -> None:
    (x, y), (tx, ty) = fashion_mnist_data(small).train, fashion_mnist_data(small).test
    assert x.shape == (400, 1, 28, 28) and x.dtype == torch.float32 and tx.shape == (100, 1, 28, 28)
    assert float(x.max()) <= 1.0 and y.dtype == torch.int64 and ty.dtype == torch.int64
    np.testing.assert_allclose(x[0, 0].numpy(), small.train_images[0] / 255.0, rtol=1e-6)


def test_import_lrlab_does_not_import_torch() -> None:
    modules = "lrlab, lrlab.lab.data, lrlab.lab.store, lrlab.reports.job, lrlab.lab.presets"
    code = f"import sys, {modules}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- a killed job resumes with exactly the numbers of an uninterrupted one -----------------------------------

SCRIPT = textwrap.dedent(
    """
    import sys
    from lrlab.lab.data import load_dataset
    from lrlab.lab.train import train
    from test_train import RUNS as runs, job_config
    data = load_dataset(sys.argv[1])
    train(runs, job_config(sys.argv[3]), data=data, out=sys.argv[2], resume=True)
    """
)
RUNS = [Run("constant(0.3)", 0), Run("cosine(0.5, steps=5, final_lr=0.01)", 0), Run("constant(1e6)", 1)]


def job_config(per: str) -> TrainConfig:
    return TrainConfig(epochs=4, batch_size=32, per=per)


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_numbers(tmp_path: Path) -> None:
    per, kill_after = "epoch", 2
    folder = write_dataset(tmp_path / "data", n_train=800, n_test=100)
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, *sys.path]), "OMP_NUM_THREADS": "1"}

    def run(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), str(folder), str(out), per], env=env, capture_output=True, text=True
        )

    whole = tmp_path / "whole"
    train(RUNS, job_config(per), data=load_dataset(folder), out=whole)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(folder), str(killed), per], env=env)
    metrics = killed / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill as soon as epoch `kill_after` has a record: mid-way through what follows
        if metrics.exists() and f'"epoch": {kill_after},' in metrics.read_text():
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = read_results(killed)
    assert not done.complete
    resumed = run(killed)
    assert resumed.returncode == 0, resumed.stderr

    ref, got = read_results(whole), read_results(killed)
    assert ref.complete and got.complete
    for ra, rb in zip(ref.runs, got.runs, strict=True):
        assert numbers(ra.epochs) == numbers(rb.epochs)
        assert ra.diverged_epoch == rb.diverged_epoch
    assert ref.runs[2].diverged_epoch == 1  # the huge-rate run diverged and stayed stopped
    lines = (killed / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines].count("end") == 1


class Interrupt(Listener):
    """Raise KeyboardInterrupt (Ctrl-C) in the middle of epoch `epoch`."""

    def __init__(self, epoch: int) -> None:
        self.at = epoch

    def batch(self, epoch: int, index: int, batches: int) -> None:
        if epoch == self.at and index == batches // 2:
            raise KeyboardInterrupt


@pytest.mark.parametrize("per", ["step", "epoch"])
def test_interrupt_mid_epoch_and_resume_gives_the_same_numbers(small: Dataset, tmp_path: Path, per: str) -> None:
    config = TrainConfig(epochs=3, batch_size=32, per=per)
    runs = [Run("cosine(0.4, steps=40, final_lr=0.01)", 0), Run("square_root(0.2)", 1)]
    whole = train(runs, config, data=small, out=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(runs, config, data=small, out=tmp_path / "cut", listener=Interrupt(2))
    assert not read_results(tmp_path / "cut").complete
    resumed = train(runs, config, data=small, out=tmp_path / "cut", resume=True)
    for w, r in zip(whole, resumed, strict=True):
        assert numbers(w.history) == numbers(r.history)
        for pw, pr in zip(w.model.parameters(), r.model.parameters(), strict=True):
            assert torch.equal(pw, pr)
    stored_whole, stored_cut = read_results(tmp_path / "whole"), read_results(tmp_path / "cut")
    assert [numbers(r.epochs) for r in stored_whole.runs] == [numbers(r.epochs) for r in stored_cut.runs]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_keeps_the_data_on_the_device_and_fused_matches_plain(small: Dataset) -> None:
    runs = [Run("constant(0.3)", 0), Run("cosine(0.5, steps=2)", 0)]
    trainer = Trainer(runs, CFG, data=small, device="cuda", fused="auto")
    assert trainer.fused and trainer.train_batches.x.is_cuda
    fused = trainer.run()
    plain = train(runs, CFG, data=small, device="cuda", fused=False)
    for p, f in zip(plain, fused, strict=True):
        assert f.history[-1]["train_loss"] == pytest.approx(p.history[-1]["train_loss"], abs=2e-3)


def test_the_jobs_threads_are_set_while_it_trains_recorded_and_restored(small: Dataset, tmp_path: Path) -> None:
    seen: list[int] = []

    class Watch(Listener):
        def batch(self, epoch: int, index: int, batches: int | None) -> None:
            seen.append(torch.get_num_threads())

    assert torch.get_num_threads() == 1  # this module's fixture
    train([Run("constant(0.1)")], CFG, data=small, out=tmp_path / "job", threads=2, listener=Watch())
    assert set(seen) == {2} and torch.get_num_threads() == 1
    assert read_results(tmp_path / "job").job["threads_per_run"] == 2
    with pytest.raises(TrainError, match="threads must be a whole number >= 1"):
        Trainer([Run("constant(0.1)")], CFG, data=small, threads=0)
