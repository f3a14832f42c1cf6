"""Run a sweep (`lrlab.sweeps.sweep`) into a folder, trial by trial, so it can be stopped and resumed.

The folder holds::

    sweep.json                 the sweep (its dict), its fingerprint, the data, lrlab/torch versions
    results.jsonl              one line per finished trial (params, seed, status, final metrics)
    trials/<trial_id>/         a trainer job folder (job.json, metrics.jsonl, checkpoint.pt) and
        trial.json             the trial: params, seed, spec, status (running, done or stopped)
        result.json            the completion marker: written atomically once the trial has ended

A trial with a ``result.json`` is finished and never trained again; a trial
folder without one is resumed from its checkpoint (``train(..., resume=True)``),
so an interrupted sweep, rerun with the same command, ends with the numbers of
a sweep never interrupted. Rerunning into a folder whose ``sweep.json`` holds a
different sweep is refused, naming the field that differs.

Each trial is one `lrlab.lab.train.train` call with one run, so what it computes
depends only on the sweep and the trial, whichever backend ran it:

* ``backend="local"`` trains the trials one after another in this process;
* ``backend="ray"`` runs each trial as a Ray task (on the cluster at
  ``address``, or on a Ray instance started here), writing into the same
  folder layout; ``asha=True`` runs them under Ray Tune's ASHA scheduler
  instead, which stops poor trials early: those are marked ``stopped``.

torch and ray are imported only when a sweep runs.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.lab.store import METRICS, ResultsError, atomic_write_text, read_results
from lrlab.sweeps.sweep import Sweep, SweepError, Trial, expand, summarize

if TYPE_CHECKING:
    from lrlab.lab.data import Dataset
    from lrlab.lab.train import TrainConfig
    from lrlab.sweeps.sweep import Summary

__all__ = [
    "BACKENDS",
    "RESULT",
    "RESULTS",
    "SWEEP",
    "TRIAL",
    "TRIALS",
    "SweepOutcome",
    "TrialRecord",
    "read_trial_records",
    "run_sweep",
    "train_config",
]

SWEEP = "sweep.json"
RESULTS = "results.jsonl"
TRIALS = "trials"
TRIAL = "trial.json"
RESULT = "result.json"
BACKENDS = ("local", "ray")
#: sweep options passed to the trainer, and their defaults
OPTIONS = {"batch_size": 256, "model": "lenet", "init": "torch"}
_FORMAT = 1
_FINAL_KEYS = ("train_loss", "train_acc", "test_acc")


@dataclass(frozen=True)
class TrialRecord:
    """A finished trial as written to ``result.json`` and ``results.jsonl``."""

    trial_id: str
    params: dict[str, Any]
    seed: int
    spec: str
    status: str  # "done" or "stopped" (early-stopped by ASHA)
    epochs_done: int
    diverged_epoch: int | None
    metrics: dict[str, float]

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "params": dict(self.params),
            "seed": self.seed,
            "spec": self.spec,
            "status": self.status,
            "epochs_done": self.epochs_done,
            "diverged": self.diverged,
            "diverged_epoch": self.diverged_epoch,
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        metrics = {k: (math.nan if v is None else float(v)) for k, v in dict(data.get("metrics") or {}).items()}
        return cls(
            str(data["trial_id"]),
            dict(data["params"]),
            int(data["seed"]),
            str(data["spec"]),
            str(data.get("status", "done")),
            int(data.get("epochs_done", 0)),
            None if data.get("diverged_epoch") is None else int(data["diverged_epoch"]),
            metrics,
        )


@dataclass
class SweepOutcome:
    """What `run_sweep` did: every finished trial (in sweep order) and which of them ran this time."""

    folder: Path
    sweep: Sweep
    records: list[TrialRecord]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return len(self.records) == len(expand(self.sweep))

    def summary(self) -> Summary:
        """`lrlab.sweeps.summarize` of the finished trials by the sweep's conclusion metric."""
        results = [
            {"params": r.params, "seed": r.seed, "metrics": r.metrics, "diverged": r.diverged} for r in self.records
        ]
        return summarize(results, self.sweep.conclusion_metric)


# -- setup ----------------------------------------------------------------------------------------
def train_config(sweep: Sweep) -> TrainConfig:
    """The trainer's config for every trial of `sweep` (epochs, per, and ``options``)."""
    from lrlab.lab.models import ModelConfig
    from lrlab.lab.train import TrainConfig

    unknown = sorted(set(sweep.options) - set(OPTIONS))
    if unknown:
        raise SweepError(
            f"sweep option {unknown[0]!r} is not known; the options are {', '.join(OPTIONS)}; "
            f"got options={dict(sweep.options)!r}"
        )
    opts = {**OPTIONS, **sweep.options}
    return TrainConfig(
        epochs=int(sweep.epochs),
        batch_size=opts["batch_size"],
        per=sweep.per,
        model=ModelConfig(variant=opts["model"], init=opts["init"]),
    )


def _versions() -> dict[str, str]:
    import platform

    import torch

    import lrlab

    return {"lrlab": lrlab.__version__, "torch": torch.__version__, "python": platform.python_version()}


def _differences(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> str:
    keys = [k for k in {**stored, **mine} if k not in ("name", "description")]
    diffs = [
        f"{k}: the folder has {stored.get(k)!r}, this sweep {mine.get(k)!r}"
        for k in keys
        if stored.get(k) != mine.get(k)
    ]
    return "; ".join(diffs) or "the fingerprints differ"


def _prepare_folder(sweep: Sweep, out: Path, data_source: str) -> None:
    path = out / SWEEP
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SweepError(f"{path} is not valid JSON ({exc}); choose another --out folder") from None
        if stored.get("fingerprint") != sweep.fingerprint:
            raise SweepError(
                f"{out} holds another sweep (fingerprint {stored.get('fingerprint')!r}, this one "
                f"{sweep.fingerprint!r}): {_differences(stored.get('sweep') or {}, sweep.to_dict())}; "
                "rerun it with the same options to resume, or choose another --out folder"
            )
        if stored.get("data") != data_source:
            raise SweepError(
                f"{out} holds a sweep trained on other data (data={stored.get('data')!r}, now "
                f"data={data_source!r}); give the same --data to resume, or choose another --out folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise SweepError(f"--out {str(out)!r} is not empty and holds no {SWEEP}; choose an empty or new folder")
    record = {
        "format": _FORMAT,
        "fingerprint": sweep.fingerprint,
        "sweep": sweep.to_dict(),
        "trials": [t.trial_id for t in expand(sweep)],
        "data": data_source,
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def _trial_dict(trial: Trial, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "trial_id": trial.trial_id,
        "params": dict(trial.params),
        "seed": trial.seed,
        "spec": trial.spec,
        "setting": trial.label,
        "setting_id": trial.setting_id,
        "status": status,
        **extra,
    }


def _finished(folder: Path) -> TrialRecord | None:
    path = folder / RESULT
    if not path.is_file():
        return None
    try:
        return TrialRecord.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a damaged marker: train (resume) the trial again


def read_trial_records(out: str | Path) -> list[TrialRecord]:
    """The finished trials of a sweep folder, in the sweep's order (from each ``result.json``)."""
    out = Path(out)
    try:
        order = json.loads((out / SWEEP).read_text())["trials"]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise ResultsError(f"{out} is not a sweep folder ({SWEEP} is missing or damaged: {exc})") from None
    records = []
    for tid in order:
        record = _finished(out / TRIALS / tid)
        if record is not None:
            records.append(record)
    return records


def _write_results(out: Path) -> None:
    records = read_trial_records(out)
    from lrlab.lab.store import dumps

    atomic_write_text(out / RESULTS, "".join(dumps(r.to_dict()) + "\n" for r in records))


def _epochs_done(folder: Path) -> int:
    runs = read_results(folder).runs
    return len(runs[0].epochs) if runs else 0


# -- one trial ------------------------------------------------------------------------------------
def _complete(trial: Trial, folder: Path, status: str) -> TrialRecord:
    """Write the completion marker from the trial's metrics file (its final epoch)."""
    results = read_results(folder)
    run = results.runs[0]
    final = run.final or {}
    metrics = {k: (math.nan if final.get(k) is None else float(final[k])) for k in _FINAL_KEYS}
    record = TrialRecord(
        trial.trial_id, dict(trial.params), trial.seed, trial.spec, status, len(run.epochs), run.diverged_epoch, metrics
    )
    atomic_write_text(folder / TRIAL, json.dumps(_trial_dict(trial, status, epochs_done=len(run.epochs)), indent=2))
    from lrlab.lab.store import dumps

    atomic_write_text(folder / RESULT, dumps(record.to_dict()) + "\n")
    return record


def run_trial(
    trial: Trial,
    config: TrainConfig,
    data: Any,
    folder: Path,
    *,
    device: str = "cpu",
    listener: Any = None,
) -> TrialRecord:
    """Train one trial into `folder` (resuming it if it was cut short) and mark it done."""
    from lrlab.lab.train import Run, train

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / TRIAL, json.dumps(_trial_dict(trial, "running"), indent=2))
    train(
        [Run(trial.schedule, trial.seed, trial.label)],
        config,
        data,
        out=folder,
        resume=True,
        device=device,
        listener=listener,
    )
    return _complete(trial, folder, "done")


# -- backends -------------------------------------------------------------------------------------
def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    backend: str = "local",
    address: str | None = None,
    data_path: str | Path | None = None,
    device: str = "cpu",
    quiet: bool = False,
    asha: bool = False,
    max_concurrent: int | None = None,
    data: Dataset | None = None,
    listener: Any = None,
) -> SweepOutcome:
    """Run every unfinished trial of `sweep` into `out` (see the module docstring); returns what is finished.

    `data` (a `lrlab.lab.data.Dataset`) is used as given; otherwise Fashion-MNIST
    is loaded from `data_path` (or found). `listener` (a `lrlab.lab.train.Listener`)
    receives the training hooks of the local backend (tests use it to interrupt).
    """
    if backend not in BACKENDS:
        raise SweepError(f"backend must be 'local' or 'ray'; got backend={backend!r}")
    if asha and backend != "ray":
        raise SweepError(f"asha=True needs backend='ray' (Ray Tune's ASHA scheduler); got backend={backend!r}")
    if address is not None and backend != "ray":
        raise SweepError(f"address is for backend='ray'; got address={address!r} with backend={backend!r}")
    if max_concurrent is not None and (isinstance(max_concurrent, bool) or max_concurrent < 1):
        raise SweepError(f"max_concurrent must be a whole number >= 1; got max_concurrent={max_concurrent!r}")
    out = Path(out)
    trials = expand(sweep)
    config = train_config(sweep)
    if data is None:
        from lrlab.lab.data import load_fashion_mnist

        data = load_fashion_mnist(data_path, log=None if quiet else (lambda text: print(text, file=sys.stderr)))
    _prepare_folder(sweep, out, data.describe())
    started = time.perf_counter()
    skipped = [t.trial_id for t in trials if _finished(out / TRIALS / t.trial_id) is not None]
    todo = [t for t in trials if t.trial_id not in skipped]
    log = _Log(quiet, len(trials), len(skipped))
    log.line(
        f"sweep {sweep.name or sweep.template!r}: {len(trials)} trials ({len(skipped)} already done), "
        f"{config.epochs} epochs each, backend {backend}; results in {out}"
    )
    try:
        if backend == "local":
            _run_local(todo, config, data, out, device, log, listener)
        elif asha:
            _run_tune(sweep, todo, config, data, out, device, address, max_concurrent, log)
        else:
            _run_ray(todo, config, data, out, device, address, max_concurrent, log)
    finally:
        log.close()
        if (out / SWEEP).is_file():
            _write_results(out)
    records = read_trial_records(out)
    return SweepOutcome(out, sweep, records, [t.trial_id for t in todo], skipped, time.perf_counter() - started)


class _Log:
    """Progress: a rich bar of trials (and of the current trial's batches), or plain lines when quiet."""

    def __init__(self, quiet: bool, total: int, done: int) -> None:
        self.quiet = quiet or not sys.stdout.isatty()
        self.silent = False
        self.progress: Any = None
        self.total = total
        self.done = done
        if not self.quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            self.trials = self.progress.add_task("trials", total=total, completed=done)
            self.batches = self.progress.add_task("trial", total=1, visible=False)
            self.progress.start()

    def line(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text)
        elif not self.silent:
            print(text, flush=True)

    def trial_done(self, record: TrialRecord) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.update(self.trials, completed=self.done)
        acc = record.metrics.get("test_acc", math.nan)
        state = f"DIVERGED in epoch {record.diverged_epoch}" if record.diverged else f"test acc {acc:.4f}"
        if record.status == "stopped":
            state += f" (stopped early by ASHA after {record.epochs_done} epochs)"
        self.line(f"[{self.done}/{self.total}] {record.trial_id}: {state}")

    def listener(self, trial: Trial, inner: Any) -> Any:
        from lrlab.lab.train import Listener

        log = self

        class Hooks(Listener):
            def started(self, trainer: Any) -> None:
                if log.progress is not None:
                    remaining = (trainer.config.epochs - trainer.epochs_done) * trainer.batches
                    log.progress.reset(log.batches, total=max(remaining, 1), visible=True, description=trial.label)
                if trainer.epochs_done and not log.silent:
                    log.line(f"{trial.trial_id}: resuming after epoch {trainer.epochs_done}")
                if inner is not None:
                    inner.started(trainer)

            def batch(self, epoch: int, index: int, batches: int) -> None:
                if log.progress is not None:
                    log.progress.advance(log.batches)
                if inner is not None:
                    inner.batch(epoch, index, batches)

            def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
                if inner is not None:
                    inner.epoch(epoch, records)

            def finished(self, trainer: Any) -> None:
                if inner is not None:
                    inner.finished(trainer)

        return Hooks()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _run_local(
    todo: list[Trial], config: TrainConfig, data: Dataset, out: Path, device: str, log: _Log, listener: Any
) -> None:
    from lrlab.lab.train import to_tensors

    tensors = to_tensors(data, device)
    for trial in todo:
        record = run_trial(
            trial, config, tensors, out / TRIALS / trial.trial_id, device=device, listener=log.listener(trial, listener)
        )
        _write_results(out)
        log.trial_done(record)


@contextmanager
def _ray_session(address: str | None, max_concurrent: int | None) -> Iterator[Any]:
    """The ``ray`` module, joined to the cluster at `address` or to one started here (and shut down after)."""
    try:
        import ray
    except ImportError:
        raise SweepError('backend="ray" needs Ray: pip install "lrlab[ray]" (or "ray[tune]")') from None
    if ray.is_initialized():  # the caller's Ray: leave it running
        yield ray
        return
    if address is not None:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max_concurrent or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _ray_trial(trial: Trial, config: TrainConfig, data: Any, folder: str, device: str) -> dict[str, Any]:
    """What a Ray task runs: one trial, into the shared folder layout."""
    return run_trial(trial, config, data, Path(folder), device=device).to_dict()


def _run_ray(
    todo: list[Trial],
    config: TrainConfig,
    data: Dataset,
    out: Path,
    device: str,
    address: str | None,
    max_concurrent: int | None,
    log: _Log,
) -> None:
    with _ray_session(address, max_concurrent) as ray:
        task = ray.remote(num_cpus=1)(_ray_trial)
        data_ref = ray.put(data)
        limit = max_concurrent or len(todo) or 1
        pending: dict[Any, Trial] = {}
        queue = list(todo)
        folder = out.resolve()
        while queue or pending:
            while queue and len(pending) < limit:
                trial = queue.pop(0)
                ref = task.remote(trial, config, data_ref, str(folder / TRIALS / trial.trial_id), device)
                pending[ref] = trial
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                record = TrialRecord.from_dict(ray.get(ref))
                _write_results(out)
                log.trial_done(record)


def _run_tune(
    sweep: Sweep,
    todo: list[Trial],
    config: TrainConfig,
    data: Dataset,
    out: Path,
    device: str,
    address: str | None,
    max_concurrent: int | None,
    log: _Log,
) -> None:
    if not todo:
        return
    with _ray_session(address, max_concurrent):
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler

        metric = sweep.conclusion_metric
        folder = out.resolve()
        by_id = {t.trial_id: t for t in todo}
        trainable = tune.with_parameters(
            _tune_trainable, config=config, data=data, folder=str(folder), device=device, metric=metric.name
        )
        scheduler = ASHAScheduler(
            time_attr="epoch",
            metric=metric.name,
            mode="max" if metric.higher_is_better else "min",
            max_t=config.epochs,
            grace_period=1,
            reduction_factor=2,
        )
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1}),
            param_space={"trial": tune.grid_search([t.trial_id for t in todo])},
            tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=max_concurrent, num_samples=1),
            run_config=_tune_run_config(tune, folder),
        )
        grid = tuner.fit()
        outcomes = [grid[i] for i in range(len(grid))]
        failed = {str(r.config["trial"]): r.error for r in outcomes if r.error is not None and r.config}
        for tid, trial in by_id.items():
            tfolder = out / TRIALS / tid
            record = _finished(tfolder)
            if record is None and tid not in failed and (tfolder / METRICS).is_file():
                if _epochs_done(tfolder) >= config.epochs:
                    # Tune ends a trial at its last report, before the trainer closes its job:
                    # resuming it trains nothing, writes the job's end record and marks it done.
                    record = run_trial(trial, config, data, tfolder, device=device)
                else:
                    # ASHA stopped it: its finished epochs are its result, and it is not trained again.
                    record = _complete(trial, tfolder, "stopped")
            if record is not None:
                log.trial_done(record)
        _write_results(out)
        if failed:
            tid, error = next(iter(failed.items()))
            raise SweepError(f"{len(failed)} trial(s) failed under Ray Tune, e.g. {tid}: {error}; rerun to resume them")


def _tune_run_config(tune: Any, folder: Path) -> Any:
    kwargs: dict[str, Any] = {"storage_path": str(folder / "ray"), "name": "tune", "verbose": 0}
    make: Callable[..., Any] = getattr(tune, "RunConfig", None) or __import__("ray.train").train.RunConfig
    return make(**kwargs)


def _tune_trainable(
    params: dict[str, Any], *, config: TrainConfig, data: Any, folder: str, device: str, metric: str
) -> None:
    from ray import tune

    from lrlab.lab.train import Listener
    from lrlab.sweeps.sweep import sweep_from_dict

    stored = json.loads((Path(folder) / SWEEP).read_text())
    trials = {t.trial_id: t for t in expand(sweep_from_dict(stored["sweep"]))}
    trial = trials[params["trial"]]

    class Report(Listener):
        def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
            rec = records[0]
            value = rec.get(metric)
            tune.report({"epoch": epoch, metric: math.nan if value is None else float(value)})

    run_trial(trial, config, data, Path(folder) / TRIALS / trial.trial_id, device=device, listener=Report())
