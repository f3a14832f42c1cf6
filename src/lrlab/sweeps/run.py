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

Each trial is one `run_trial` call -- one `lrlab.lab.train.train` call with one
run of the sweep's experiment (the chapter's LeNet unless the sweep's options
name another: ``experiment``, as everything else the trainer takes, is a key of
`lrlab.lab.config.TrainConfig`) -- so what it computes depends only on the sweep
and the trial, whichever backend ran it. This module is the runner every backend shares (the folder,
resuming, ``results.jsonl``, the progress log); where the trials run is a
backend from `lrlab.sweeps.backends`, handed a `SweepJob`:

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
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.lab.store import (
    LOCK,
    METRICS,
    FolderLock,
    ResultsError,
    atomic_write_text,
    claim_folder,
    data_fingerprint,
    dumps,
    read_results,
)
from lrlab.sweeps.backends import BACKENDS, get_backend
from lrlab.sweeps.grid import check_size
from lrlab.sweeps.summary import Summary, summarize
from lrlab.sweeps.sweep import Sweep, SweepError, Trial, expand

if TYPE_CHECKING:
    from lrlab.lab.config import TrainConfig
    from lrlab.lab.experiment import Experiment

__all__ = [
    "BACKENDS",
    "RESULT",
    "RESULTS",
    "SWEEP",
    "TRIAL",
    "TRIALS",
    "SweepJob",
    "SweepOutcome",
    "TrialRecord",
    "is_sweep_folder",
    "read_trial_records",
    "run_sweep",
    "run_trial",
    "train_config",
]

SWEEP = "sweep.json"
RESULTS = "results.jsonl"
TRIALS = "trials"
TRIAL = "trial.json"
RESULT = "result.json"
_FORMAT = 2


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
        """`lrlab.sweeps.summary.summarize` of the finished trials by the sweep's conclusion metric."""
        results = [
            {"params": r.params, "seed": r.seed, "metrics": r.metrics, "diverged": r.diverged} for r in self.records
        ]
        return summarize(results, self.sweep.conclusion_metric)


# -- setup ----------------------------------------------------------------------------------------
def train_config(sweep: Sweep) -> TrainConfig:
    """The trainer's config for every trial of `sweep`: its ``epochs`` and ``per``, and its ``options``.

    The options are any other field of `lrlab.lab.config.TrainConfig`
    (``experiment``, ``batch_size``, ``optimizer``); an unknown one is an error.
    """
    from lrlab.errors import LrlabError
    from lrlab.lab.config import TrainConfig

    options = {k: v for k, v in sweep.options.items() if k not in ("epochs", "per")}
    try:
        return TrainConfig.from_dict({**options, "epochs": int(sweep.epochs), "per": sweep.per})
    except LrlabError as exc:
        raise SweepError(f"sweep options {dict(sweep.options)!r}: {exc}") from None


def is_sweep_folder(folder: str | Path) -> bool:
    """Whether `folder` holds a sweep (a ``sweep.json`` written by `run_sweep`)."""
    path = Path(folder) / SWEEP
    if not path.is_file():
        return False
    try:
        return "fingerprint" in json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False


def _versions() -> dict[str, str]:
    from lrlab.lab.train import versions

    return versions()


def _differences(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> str:
    keys = [k for k in {**stored, **mine} if k not in ("name", "description")]
    diffs = [
        f"{k}: the folder has {stored.get(k)!r}, this sweep {mine.get(k)!r}"
        for k in keys
        if stored.get(k) != mine.get(k)
    ]
    return "; ".join(diffs) or "the fingerprints differ"


def _prepare_folder(
    sweep: Sweep, out: Path, data_source: str, experiment: Mapping[str, Any], fingerprint: str = ""
) -> None:
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
        if stored.get("data_fingerprint", fingerprint) != fingerprint:
            raise SweepError(
                f"{out} holds a sweep trained on other data (data_fingerprint={stored['data_fingerprint']!r}, now "
                f"{fingerprint!r}: the files under --data changed); give the same data to resume, or --overwrite"
            )
        return
    if out.exists() and any(p.name != LOCK for p in out.iterdir()):
        raise SweepError(f"--out {str(out)!r} is not empty and holds no {SWEEP}; choose an empty or new folder")
    record = {
        "format": _FORMAT,
        "fingerprint": sweep.fingerprint,
        "sweep": sweep.to_dict(),
        "trials": [t.trial_id for t in expand(sweep)],
        "data": data_source,
        "data_fingerprint": fingerprint,
        "experiment": dict(experiment),
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
    atomic_write_text(out / RESULTS, "".join(dumps(r.to_dict()) + "\n" for r in records))


# -- one trial ------------------------------------------------------------------------------------
def _complete(trial: Trial, folder: Path, status: str) -> TrialRecord:
    """Write the completion marker from the trial's metrics file (its final epoch)."""
    results = read_results(folder)
    run = results.runs[0]
    final = run.final or {}
    names = (results.job.get("experiment") or {}).get("metrics") or [
        k for k in final if k.startswith(("train_", "test_"))
    ]
    metrics = {k: (math.nan if final.get(k) is None else float(final[k])) for k in names}
    record = TrialRecord(
        trial.trial_id, dict(trial.params), trial.seed, trial.spec, status, len(run.epochs), run.diverged_epoch, metrics
    )
    atomic_write_text(folder / TRIAL, json.dumps(_trial_dict(trial, status, epochs_done=len(run.epochs)), indent=2))
    atomic_write_text(folder / RESULT, dumps(record.to_dict()) + "\n")
    return record


def run_trial(
    trial: Trial,
    config: TrainConfig,
    experiment: Experiment,
    folder: Path,
    *,
    device: str = "cpu",
    listener: Any = None,
    threads: int | None = None,
) -> TrialRecord:
    """Train one trial of `experiment` into `folder` (resuming it if it was cut short) and mark it done.

    `threads` (torch's intra-op threads) is the same for every trial of a sweep, on any backend, so that a
    trial's numbers do not depend on where it ran (a Ray worker would otherwise use its own setting).
    """
    from lrlab.lab.train import Run, train

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / TRIAL, json.dumps(_trial_dict(trial, "running"), indent=2))
    train(
        [Run(trial.schedule, trial.seed, trial.label)],
        config,
        experiment,
        out=folder,
        resume=True,
        device=device,
        listener=listener,
        threads=threads,
    )
    return _complete(trial, folder, "done")


# -- what a backend is handed ---------------------------------------------------------------------
@dataclass
class SweepJob:
    """What a backend (`lrlab.sweeps.backends`) is handed: the unfinished trials and the runner's hooks.

    A backend trains each of `trials` into `folder` (``trial``) -- with `train`
    in this process, or by shipping `run_trial` (the one function that trains
    a trial) to where it runs -- and hands each finished `TrialRecord` to
    `done`, which writes ``results.jsonl`` and logs progress. `address`,
    `max_concurrent` and `asha` are the options a backend may take (see
    `lrlab.sweeps.backends.Backend.takes`).
    """

    sweep: Sweep
    trials: list[Trial]
    config: TrainConfig
    experiment: Experiment
    out: Path
    log: _Log
    device: str = "cpu"
    address: str | None = None
    max_concurrent: int | None = None
    asha: bool = False
    listener: Any = None
    threads: int | None = None
    workers: int = 1

    @property
    def run_trial(self) -> Callable[..., TrialRecord]:
        """`run_trial` itself: a module-level function, so Ray can send it to its workers by name."""
        return run_trial

    def folder(self, trial: Trial) -> Path:
        """The trial's folder (an absolute path, the same from any process on this machine)."""
        return self.out.resolve() / TRIALS / trial.trial_id

    def train(self, trial: Trial, *, listener: Any = None) -> TrialRecord:
        """`run_trial` here, into the trial's folder (the experiment's data are loaded once, for all trials)."""
        return run_trial(
            trial,
            self.config,
            self.experiment,
            self.folder(trial),
            device=self.device,
            listener=listener,
            threads=self.threads,
        )

    def progress(self, trial: Trial) -> Any:
        """Training hooks that show the trial's batches and pass them on to the caller's listener."""
        return self.log.listener(trial, self.listener)

    def done(self, record: TrialRecord) -> None:
        """Record a finished trial: rewrite ``results.jsonl`` and log it."""
        _write_results(self.out)
        self.log.trial_done(record)

    def finished(self, trial: Trial) -> TrialRecord | None:
        """The trial's record if it is finished (has its ``result.json``), else None."""
        return _finished(self.folder(trial))

    def epochs_done(self, trial: Trial) -> int | None:
        """Epochs in the trial's metrics file; None when it has none (it never started)."""
        folder = self.folder(trial)
        if not (folder / METRICS).is_file():
            return None
        runs = read_results(folder).runs
        return len(runs[0].epochs) if runs else 0

    def complete(self, trial: Trial, status: str) -> TrialRecord:
        """Mark a trial finished with its epochs so far (``"stopped"``: an early-stopping scheduler ended it)."""
        return _complete(trial, self.folder(trial), status)


# -- the runner -----------------------------------------------------------------------------------
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
    data: Any = None,
    experiment: Experiment | str | None = None,
    listener: Any = None,
    threads: int | None = None,
    workers: int | str = "auto",
    overwrite: bool = False,
) -> SweepOutcome:
    """Run every unfinished trial of `sweep` into `out` (see the module docstring); returns what is finished.

    `backend` names one of `lrlab.sweeps.backends.BACKENDS`; `address` and
    `asha` need a backend that takes them (``ray``). `experiment` (an
    `lrlab.Experiment` or a reference; default: the sweep's ``experiment``
    option, else the chapter's) gets `data` -- for the built-in ones a
    `lrlab.lab.data.Dataset` or a folder, `data_path` being the same -- and its
    data are loaded once for all trials. `listener` (a `lrlab.lab.train.Listener`)
    receives the training hooks of the local backend (tests use it to interrupt).
    Every trial trains with `threads` torch threads (default: one), whichever
    backend runs it. The local backend trains `workers` trials at a time in
    worker processes (``"auto"``: the fastest count here, see
    `lrlab.lab.workers.auto_workers`); the numbers do not depend on it.
    The folder is locked while the sweep runs (`lrlab.lab.store.FolderLock`);
    one holding other lrlab results is refused unless `overwrite`, which removes them.
    """
    chosen = get_backend(backend)
    for option, value in (("asha", asha), ("address", address)):
        if value not in (None, False) and option not in chosen.takes:
            users = " or ".join(repr(name) for name, b in BACKENDS.items() if option in b.takes)
            raise SweepError(f"{option}={value!r} needs backend={users}; got backend={backend!r}")
    if max_concurrent is not None and (isinstance(max_concurrent, bool) or max_concurrent < 1):
        raise SweepError(f"max_concurrent must be a whole number >= 1; got max_concurrent={max_concurrent!r}")
    from lrlab.lab.workers import check_workers

    check_workers(workers, where="sweep")  # a bad count is refused before the folder is locked
    out = Path(out)
    check_size(sweep.grid, sweep.trials if sweep.random else 0, len(sweep.seeds))  # before expanding: a refusal
    trials = expand(sweep)
    config = train_config(sweep)
    loaded, record = _experiment(experiment if experiment is not None else config.experiment, data, data_path)
    metric = sweep.conclusion_metric.name
    if metric not in record["metrics"]:
        raise SweepError(
            f"the sweep is judged by {metric!r}, which experiment {loaded.name!r} does not record "
            f"(it records {', '.join(record['metrics'])}); set the sweep's conclusion_metric (--metric)"
        )
    _check(trials, config, loaded, device)
    lock = FolderLock(out, error=SweepError)  # held until the sweep ends (released in the finally below)
    lock.acquire()
    try:
        claim_folder(out, marker=SWEEP, resume=True, overwrite=overwrite, error=SweepError)
        fingerprint = data_fingerprint(loaded.data)
        _prepare_folder(sweep, out, loaded.data.description, record, fingerprint)  # type: ignore[union-attr]
        started = time.perf_counter()
        skipped = [t.trial_id for t in trials if _finished(out / TRIALS / t.trial_id) is not None]
        todo = [t for t in trials if t.trial_id not in skipped]
        log = _Log(quiet, len(trials), len(skipped))
        log.metric = metric
        log.line(
            f"sweep {sweep.name or sweep.template!r}: {len(trials)} trials ({len(skipped)} already done), "
            f"{config.epochs} epochs each, backend {backend}; results in {out}"
        )
        job = SweepJob(
            sweep,
            todo,
            config,
            loaded,
            out,
            log,
            device=device,
            address=address,
            max_concurrent=max_concurrent,
            asha=asha,
            listener=listener,
            threads=_threads(threads, device),
            workers=_workers(workers, todo, config, loaded, threads, device),
        )
        try:
            chosen.run(job)
        finally:
            log.close()
            if (out / SWEEP).is_file():
                _write_results(out)
    finally:
        lock.release()
    records = read_trial_records(out)
    return SweepOutcome(out, sweep, records, [t.trial_id for t in todo], skipped, time.perf_counter() - started)


def _check(trials: list[Trial], config: TrainConfig, experiment: Experiment, device: str) -> None:
    """Set up (not train) the first trial: an experiment that cannot train fails here, before the folder is made."""
    from lrlab.lab.train import Run, Trainer

    if trials:
        Trainer([Run(trials[0].schedule, trials[0].seed)], config, experiment, device=device)


def _threads(threads: int | None, device: str) -> int:
    """The torch threads of every trial: `threads`, or the lab's default (one on the CPU)."""
    from lrlab.lab.workers import default_threads

    return threads or default_threads(device)


def _workers(
    asked: int | str, todo: list[Trial], config: TrainConfig, experiment: Experiment, threads: int | None, device: str
) -> int:
    """How many trials the local backend trains at a time: `asked`, or the fastest count for this sweep."""
    from lrlab.lab.workers import auto_workers, check_workers, data_bytes, work_of

    chosen = check_workers(asked, where="sweep")
    if chosen != "auto":
        return min(int(chosen), max(1, len(todo)))
    data = experiment.data
    train = getattr(data, "train", None)
    examples = len(train[0]) if isinstance(train, tuple | list) and train else None
    work = work_of(examples, config.epochs, len(todo))
    return auto_workers(len(todo), work, _threads(threads, device), data_bytes=data_bytes(data), device=device)


def _experiment(ref: Experiment | str, data: Any, data_path: str | Path | None) -> tuple[Experiment, dict[str, Any]]:
    """The experiment with its data loaded (once, for every trial), and what ``sweep.json`` records of it."""
    import dataclasses

    from lrlab.lab.experiment import metric_names, resolve_experiment

    given = data if data is not None else data_path
    experiment = resolve_experiment(
        ref, data=None if given is None else str(given) if isinstance(given, Path) else given
    )
    loaded = experiment.load_data()
    has_test = loaded.test is not None
    record = {
        "name": experiment.name,
        "description": experiment.description,
        "metrics": metric_names(experiment, has_test=has_test),
        "goal": experiment.goal_metric(has_test=has_test),
    }
    return dataclasses.replace(experiment, data=loaded), record


class _Log:
    """Progress: a rich bar of trials (and of the current trial's batches), or plain lines when quiet."""

    def __init__(self, quiet: bool, total: int, done: int) -> None:
        self.quiet = quiet or not sys.stdout.isatty()
        self.silent = False
        self.progress: Any = None
        self.total = total
        self.done = done
        self.metric = ""
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
        name = self.metric or "test_acc"
        value = record.metrics.get(name, math.nan)
        shown = name.replace("_", " ")
        state = f"DIVERGED in epoch {record.diverged_epoch}" if record.diverged else f"{shown} {value:.4f}"
        if record.status == "stopped":
            state += f" (stopped early by ASHA after {record.epochs_done} epochs)"
        self.line(f"[{self.done}/{self.total}] {record.trial_id}: {state}")

    def listener(self, trial: Trial, inner: Any) -> Any:
        from lrlab.lab.train import Listener

        log = self

        class Hooks(Listener):
            def started(self, trainer: Any) -> None:
                if log.progress is not None:
                    remaining = (trainer.config.epochs - trainer.epochs_done) * (trainer.batches or 1)
                    log.progress.reset(log.batches, total=max(remaining, 1), visible=True, description=trial.label)
                if trainer.epochs_done and not log.silent:
                    log.line(f"{trial.trial_id}: resuming after epoch {trainer.epochs_done}")
                if inner is not None:
                    inner.started(trainer)

            def batch(self, epoch: int, index: int, batches: int | None) -> None:
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
