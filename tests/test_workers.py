"""Worker processes (`lrlab.lab.workers`): the same numbers with any number of workers, resume, failures, Ctrl-C.

On a small synthetic IDX data set. Each job here starts real spawned processes (a few seconds each), so
the jobs are few and tiny; what they check is exact equality of every recorded number.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrlab
from fixtures_data import write_dataset
from lrlab.api import compare
from lrlab.errors import TrainError
from lrlab.lab.config import TrainConfig
from lrlab.lab.train import Listener, Run, Trainer
from lrlab.lab.workers import MIN_WORK, Executor, Task, auto_workers, portable
from lrlab.sweeps.run import run_sweep
from lrlab.sweeps.sweep import Sweep

SCHEDULES = ["cosine(0.3, steps=3)", "constant(0.1)", "constant(1000000.0)"]  # the last one diverges


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"), n_train=256, n_test=64)


def numbers(folder: Path) -> list[dict[str, Any]]:
    """Every record of a job's metrics file without what may differ between two equal jobs (ids, timings)."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    drop = {"run_id", "job_id", "seconds", "epoch_seconds", "created", "workers", "worker_peak_mb"}
    return [{k: v for k, v in r.items() if k not in drop} for r in records if r.get("type") != "run"]


def job(data_dir: Path, out: Path, workers: int | str, **options: Any) -> Any:
    settings: dict[str, Any] = {"progress": False, "report": False, "threads": 1, **options}
    return compare(
        SCHEDULES, seeds=[0, 1], epochs=3, batch_size=32, data=str(data_dir), out=out, workers=workers, **settings
    )


@pytest.fixture(scope="module")
def one_process(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one") / "job"
    job(data_dir, out, 1)
    return out


def test_two_workers_give_every_number_of_one_process(data_dir: Path, one_process: Path, tmp_path: Path) -> None:
    job(data_dir, tmp_path / "two", 2)
    mine, theirs = numbers(tmp_path / "two"), numbers(one_process)
    assert len(mine) == len(theirs) > 12
    assert mine == theirs  # exact: train/test metrics, rates, divergence records, in the same order
    assert any(r.get("type") == "diverged" for r in mine)  # the hopeless run diverged in both, the others went on
    stored = json.loads((tmp_path / "two" / "job.json").read_text())
    assert stored["threads_per_run"] == 1 and stored["workers"] == 2
    assert multiprocessing.active_children() == []  # no worker is left behind


def test_per_step_clock_with_workers(data_dir: Path, tmp_path: Path) -> None:
    runs = [Run("warmup(cosine(0.2, steps=20), steps=5)", 0), Run("linear(0.2, 0.0, steps=24)", 0)]
    config = TrainConfig(epochs=2, batch_size=32, per="step")
    outcomes = {}
    for workers in (1, 2):
        trainer = Trainer(runs, config, data=str(data_dir), threads=1, workers=workers)
        outcomes[workers] = [[dict(r, seconds=0, epoch_seconds=0, run_id="") for r in o.history] for o in trainer.run()]
    assert outcomes[1] == outcomes[2]
    # 256 examples in batches of 32: 8 updates an epoch; epoch 2 starts at update 8, cosine's step 8 - 5
    assert outcomes[2][0][0]["lr_first"] == 0.0
    assert outcomes[2][0][1]["lr_first"] == pytest.approx(0.2 * (1 + math.cos(math.pi * 3 / 20)) / 2, rel=1e-12)


class StopAfter(Listener):
    """Stops the job as Ctrl-C would, after epoch `epoch` is written."""

    def __init__(self, epoch: int) -> None:
        self.at = epoch

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        if epoch == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_stops_every_worker_and_resume_with_other_counts_ends_the_same(
    data_dir: Path, one_process: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        job(data_dir, out, 2, progress=StopAfter(1))
    assert multiprocessing.active_children() == []
    assert json.loads((out / "job.json").read_text())["identity"]
    job(data_dir, out, 3, resume=True)  # another worker count: the numbers do not depend on it
    assert numbers(out) == numbers(one_process)


class KillWorker(Listener):
    """Kills one worker process (as the kernel's OOM killer would) once epoch 1 is saved, with epochs 2-3 to go."""

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        if epoch == 1:
            worker = next(p for p in multiprocessing.active_children() if p.name == "lrlab-worker-1")
            os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]


def test_a_killed_worker_ends_the_job_with_a_clear_error_and_resume_recovers(
    data_dir: Path, one_process: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    with pytest.raises(TrainError, match=r"worker 1 \(pid \d+\) stopped unexpectedly \(killed by signal 9\); rerun"):
        job(data_dir, out, 2, progress=KillWorker())
    assert multiprocessing.active_children() == []
    done = [r for r in numbers(out) if r.get("type") == "epoch"]
    assert {r["epoch"] for r in done} == {1}  # epoch 1 was saved; epoch 2 was cut short
    job(data_dir, out, 1, resume=True)
    assert numbers(out) == numbers(one_process)


def test_train_with_one_seed_repeats_that_run_of_a_compare(data_dir: Path, one_process: Path, tmp_path: Path) -> None:
    from lrlab.api import train

    train(
        SCHEDULES[0],
        seed=1,
        epochs=3,
        batch_size=32,
        data=str(data_dir),
        out=tmp_path / "one",
        progress=False,
        report=False,
    )
    alone = [r for r in numbers(tmp_path / "one") if r.get("type") == "epoch"]
    index = 3 + 0  # seed 1's first run: runs are (seed 0: three schedules), (seed 1: three schedules)
    runs = json.loads((one_process / "job.json").read_text())["run_ids"]
    records = [json.loads(line) for line in (one_process / "metrics.jsonl").read_text().splitlines()]
    theirs = [
        {k: v for k, v in r.items() if k not in {"run_id", "seconds", "epoch_seconds"}}
        for r in records
        if r.get("type") == "epoch" and r["run_id"] == runs[index]
    ]
    assert alone == theirs and len(alone) == 3


def one_run(data_dir: Path, out: Path, epochs: int = 2, **options: Any) -> Any:
    """A one-run job in this process (no workers), without report or progress unless `options` say so."""
    settings: dict[str, Any] = {"progress": False, "report": False, "workers": 1, **options}
    return compare(["constant(0.1)"], epochs=epochs, batch_size=32, data=str(data_dir), out=out, **settings)


def test_resume_keeps_the_threads_the_job_started_with(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "threads"
    with pytest.raises(KeyboardInterrupt):
        one_run(data_dir, out, progress=StopAfter(1), threads=2)
    with pytest.raises(TrainError, match=r"threads must be 2, the threads per run this job started.*got threads=1"):
        one_run(data_dir, out, threads=1, resume=True)
    one_run(data_dir, out, resume=True)  # not given: the stored 2
    assert json.loads((out / "job.json").read_text())["threads_per_run"] == 2


def test_a_sweep_in_two_workers_gives_the_trials_of_one_process(data_dir: Path, tmp_path: Path) -> None:
    sweep = Sweep(
        template="cosine({lr}, steps=2)",
        grid={"lr": (0.3, 0.6)},
        seeds=(0, 1),
        epochs=2,
        options={"batch_size": 32},
        name="tiny",
    )
    one = run_sweep(sweep, tmp_path / "one", data_path=data_dir, quiet=True, workers=1)
    two = run_sweep(sweep, tmp_path / "two", data_path=data_dir, quiet=True, workers=2)
    assert [r.to_dict() for r in one.records] == [r.to_dict() for r in two.records]
    assert len(two.records) == 4 and multiprocessing.active_children() == []


# -- choosing the count ----------------------------------------------------------------------------------------
def test_auto_picks_one_process_where_workers_cannot_pay_off() -> None:
    assert auto_workers(5, MIN_WORK - 1, 1) == 1  # too small to pay for starting processes
    assert auto_workers(1, 10**9, 1) == 1  # one run
    assert auto_workers(5, 10**9, 1, device="cuda") == 1  # a GPU fuses the runs instead


def test_auto_spreads_runs_over_the_cores_within_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import lrlab.lab.workers as workers

    monkeypatch.setattr(workers, "cores", lambda: 2)
    monkeypatch.setattr(workers, "memory_bytes", lambda: 24 * 2**30)
    assert auto_workers(5, 10**9, 1) == 2  # one per core: the runs' epochs go to whichever comes free
    assert auto_workers(15, 10**9, 1) == 2 * workers.WORKERS_PER_CORE
    assert auto_workers(15, 10**9, 2) == workers.WORKERS_PER_CORE  # 2 threads each: half the processes
    monkeypatch.setattr(workers, "cores", lambda: 16)
    assert auto_workers(5, 10**9, 1) == 5  # never more workers than runs
    monkeypatch.setattr(workers, "memory_bytes", lambda: 2 * 2**30)  # 1 GiB for workers of 768 MiB + 200 MiB data
    assert auto_workers(15, 10**9, 1, data_bytes=200 * 2**20) == 1


class FakePool:
    """A `WorkerPool` stand-in: calls run when `wait` asks for the next result, oldest first."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.calls: list[tuple[int, Any]] = []  # (worker, args), in the order sent
        self.answered: list[int] = []

    def __len__(self) -> int:
        return self.count

    def call(self, index: int, fn: Any, *args: Any) -> None:
        assert index not in [w for w, _ in self.pending], f"worker {index} got a second call"
        self.calls.append((index, args))

    @property
    def pending(self) -> list[tuple[int, Any]]:
        return self.calls[len(self.answered) :]

    def wait(self, on_event: Any = None) -> tuple[int, Any]:
        worker, args = self.pending[0]
        self.answered = [*self.answered, worker]
        return worker, args


def test_a_free_worker_takes_the_next_task_and_prefers_the_one_whose_state_it_holds() -> None:
    pool = FakePool(2)
    executor = Executor(pool)  # type: ignore[arg-type]
    for name in "abc":
        executor.submit(Task(name, print, (name,)))
    assert [w for w, _ in pool.calls] == [0, 1]  # two start at once; "c" waits for a free worker
    task, worker, _ = executor.next()
    assert (task.key, worker) == ("a", 0) and pool.calls[-1] == (0, ("c",))
    executor.submit(Task("d", print, ("d",), home=1))
    executor.submit(Task("e", print, ("e",), home=0))
    task, worker, _ = executor.next()
    assert (task.key, worker) == ("b", 1) and pool.calls[-1] == (1, ("d",))  # d is at home, e waits for its own
    executor.next()  # c ends on worker 0, which takes e
    assert pool.calls[-1] == (0, ("e",))
    prepared: list[int] = []
    executor.submit(Task("f", print, prepare=lambda w: (prepared.append(w) or "f",)))
    while executor.pending():
        executor.next()
    assert prepared in ([0], [1]) and len(pool.calls) == 6  # arguments made for the worker it went to


def test_an_experiment_from_main_stays_in_this_process(data_dir: Path, tmp_path: Path) -> None:
    from lrlab.lab.experiment import Experiment, resolve_experiment

    builtin = resolve_experiment("fashion-mnist-lenet", data=str(data_dir))
    local = Experiment(name="mine", data=builtin.data, model=lambda seed: builtin.model(seed))
    assert portable("fashion-mnist-lenet") and not portable(local)
    trainer = Trainer([Run("constant(0.1)", 0), Run("constant(0.2)", 0)], TrainConfig(epochs=1), local, workers=2)
    assert trainer.workers == 1 and "cannot be sent to worker processes" in trainer.workers_note


# -- bfloat16, an opt-in with its own numbers ------------------------------------------------------------------
def test_bfloat16_is_an_opt_in_with_its_own_identity(data_dir: Path, tmp_path: Path) -> None:
    plain = one_run(data_dir, tmp_path / "f32", epochs=1)
    half = one_run(data_dir, tmp_path / "bf16", epochs=1, precision="bfloat16")
    f32 = json.loads((tmp_path / "f32" / "job.json").read_text())["identity"]["config"]
    bf16 = json.loads((tmp_path / "bf16" / "job.json").read_text())["identity"]["config"]
    assert "precision" not in f32  # float32 jobs keep the identity of earlier versions
    assert bf16["precision"] == "bfloat16"
    (a,), (b,) = plain.results.runs, half.results.runs
    assert math.isfinite(b.final["train_loss"]) and b.final["train_loss"] != a.final["train_loss"]
    assert abs(b.final["train_loss"] - a.final["train_loss"]) < 0.05 * a.final["train_loss"]
    with pytest.raises(TrainError, match=r"precision must be 'float32' or 'bfloat16'; got precision='fp16'"):
        TrainConfig(precision="fp16")


def test_tensorboard_gets_every_updates_rate_from_the_workers(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    specs = ["warmup(cosine(0.2, steps=10), steps=4)", "linear(0.2, 0.0, steps=16)"]
    out = tmp_path / "tb"
    compare(
        specs,
        epochs=2,
        batch_size=32,
        per="step",
        data=str(data_dir),
        out=out,
        progress=False,
        report=False,
        workers=2,
        tensorboard=True,
    )
    updates = 2 * 256 // 32
    for folder in sorted((out / "tensorboard").iterdir()):
        events = EventAccumulator(str(folder))
        events.Reload()
        lrs = events.Scalars("lr")
        spec = specs[0] if folder.name.startswith("warmup") else specs[1]
        assert [e.step for e in lrs] == list(range(updates))
        np.testing.assert_allclose([e.value for e in lrs], lrlab.parse(spec)(np.arange(updates)), rtol=1e-6)


def test_a_bad_worker_count_is_refused_by_name_before_anything_is_locked(data_dir: Path, tmp_path: Path) -> None:
    sweep = Sweep(template="constant({lr})", grid={"lr": (0.1,)}, seeds=(0,), epochs=1, options={"batch_size": 64})
    for bad in (0, -1, True, "many"):
        with pytest.raises(TrainError, match=rf"workers must be a whole number >= 1 or 'auto'; got workers={bad!r}"):
            run_sweep(sweep, tmp_path / "s", data_path=data_dir, quiet=True, workers=bad)
        with pytest.raises(TrainError, match=rf"got workers={bad!r}"):
            one_run(data_dir, tmp_path / "j", workers=bad)
    assert not (tmp_path / "j").exists()
    assert run_sweep(sweep, tmp_path / "s", data_path=data_dir, quiet=True, workers=1).complete  # nothing held


def test_a_model_with_dropout_gives_the_same_numbers_alone_beside_others_and_in_workers(tmp_path: Path) -> None:
    specs = ["constant(0.2)", "cosine(0.3, steps=3)", "constant(0.05)"]
    settings: dict[str, Any] = {"experiment": "dropout_experiment:make", "epochs": 3, "batch_size": 32}
    settings.update(progress=False, report=False, threads=1)
    together = compare(specs, seeds=[0, 1], out=tmp_path / "one", workers=1, **settings)
    compare(specs, seeds=[0, 1], out=tmp_path / "two", workers=2, **settings)
    compare([specs[1]], seeds=[1], out=tmp_path / "alone", workers=1, **settings)
    assert numbers(tmp_path / "two") == numbers(tmp_path / "one")
    keys = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr_first", "lr_last")
    alone = [tuple(r[k] for k in keys) for r in numbers(tmp_path / "alone") if r.get("type") == "epoch"]
    (run,) = [r for r in together.results.runs if r.config["label"] == specs[1] and r.config["seed"] == 1]
    assert alone == [tuple(rec[k] for k in keys) for rec in run.epochs] and len(alone) == 3


FAULTS = """
import resource, sys
import numpy as np
from lrlab.lab.workers import keep_freed_memory
tuned = sys.argv[1] == "1" and keep_freed_memory()
def step():  # a training step's activations: a few 5 MB blocks allocated, used, freed together
    blocks = [np.ones(5 * 2**20 // 8) for _ in range(6)]
    return sum(b.sum() for b in blocks)
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux (glibc) only")
def test_lrlabs_own_processes_reuse_freed_blocks_instead_of_faulting_them_in_again() -> None:
    import subprocess
    import sys

    def faults(tuned: bool) -> int:
        run = subprocess.run([sys.executable, "-c", FAULTS, str(int(tuned))], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    default, tuned = faults(False), faults(True)
    assert default > 20 * 1000  # blocks handed back to the kernel and mapped afresh each step
    assert tuned < default / 20
