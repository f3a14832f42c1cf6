"""The lab from Python and notebooks: `compare`, `train`, `sweep`, `find_lr` and `load`, returning result objects.

Each call runs the same job as the command line of the same name and
returns an object to look at rather than files to open::

    import lrlab
    result = lrlab.compare(["cosine(0.3, steps=10)", "constant(0.1)"], experiment="fashion-mnist-mlp",
                           seeds=2, epochs=10, out="out/mine")
    result.to_pandas()        # one row per run and epoch (pandas: pip install "lrlab[pandas]")
    result.records("final")   # the final table: mean ± std per schedule, as plain dicts
    result.conclusion         # which schedule won, by how much, and whether the lead beats seed noise
    result.plot()             # {"lr": Figure, "compare": Figure, ...}: shown inline in Jupyter
    lrlab.load("out/mine")    # the same object again, from the folder

An experiment is an `lrlab.Experiment`, a built-in name (``"fashion-mnist-lenet"``,
the chapter's, is the default), ``"package.module:factory"`` or a path to a
``.py`` file. Nothing here switches global state: matplotlib's backend, torch's
default dtype and the root logger stay as they were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.errors import LrlabError, ResultsError
from lrlab.lab.config import OptimizerSpec, TrainConfig, run_spec
from lrlab.lab.stats import LEVEL, Comparison, Metric, format_interval, format_mean_std, format_table
from lrlab.lab.store import JobResults, read_results
from lrlab.lab.summary import goal_of, job_comparison
from lrlab.schedules.base import Schedule

if TYPE_CHECKING:
    from lrlab.lab.experiment import Experiment
    from lrlab.lab.train import Listener

__all__ = ["JobResult", "RangeTestResult", "SweepResult", "compare", "find_lr", "load", "sweep", "train"]

#: a run's schedule, or its schedule and its own optimizer (``("warmup(constant(0.1), steps=2)", "schedulefree_sgd")``)
RunSpec = Schedule | str | tuple[Schedule | str, OptimizerSpec | str]
Schedules = Sequence[RunSpec] | Mapping[str, RunSpec]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            'to_pandas() needs pandas: pip install "lrlab[pandas]" (records() gives plain dicts)'
        ) from None
    return pandas


class JobResult:
    """The results of a ``train`` or ``compare`` job: its runs' records, the final table, the conclusion, figures."""

    def __init__(self, results: JobResults, metric: Metric | str | None = None) -> None:
        self.results = results
        self.metric = Metric.parse(metric) if metric is not None else goal_of(results)

    @property
    def folder(self) -> Path | None:
        """Where the job's files are (None for a job kept in memory)."""
        return self.results.folder

    @property
    def complete(self) -> bool:
        """Whether every epoch of every run is done."""
        return self.results.complete

    @property
    def comparison(self) -> Comparison:
        """The ranked schedules and the conclusion, by `metric` (`lrlab.lab.stats.compare_settings`)."""
        return job_comparison(self.results, self.metric)

    @property
    def conclusion(self) -> str:
        """One sentence: which schedule won on the goal metric, by how much, and whether the lead exceeds seed noise."""
        return self.comparison.sentence

    def records(self, kind: str = "epochs") -> list[dict[str, Any]]:
        """Plain dicts: one per run and epoch (``"epochs"``), per run (``"runs"``) or per schedule (``"final"``)."""
        if kind == "epochs":
            rows = []
            for run in self.results.runs:
                for rec in run.epochs:
                    rows.append({**_identity(run.config), **_values(rec)})
            return rows
        if kind == "runs":
            return [
                {
                    **_identity(run.config),
                    "epochs": len(run.epochs),
                    "diverged_epoch": run.diverged_epoch,
                    **_values(run.final or {}),
                }
                for run in self.results.runs
            ]
        if kind == "final":
            return [self._final_row(row) for row in self.comparison.rows]
        raise LrlabError(f"kind must be 'epochs', 'runs' or 'final'; got kind={kind!r}")

    def _final_row(self, row: Any) -> dict[str, Any]:
        runs = self.results.by_label()[row.label]
        return {
            "label": row.label,
            "schedule": runs[0].config.get("schedule"),
            "seeds": row.runs,
            "n": row.n,
            f"{self.metric.name}_mean": row.mean,
            f"{self.metric.name}_std": row.std,
            "ci_low": row.ci_low,
            "ci_high": row.ci_high,
            "diverged": row.diverged,
            self.metric.name: format_mean_std(row.mean, row.std, row.n),
        }

    def to_pandas(self, kind: str = "epochs") -> Any:
        """`records` as a pandas ``DataFrame`` (pandas is an optional extra)."""
        return _pandas().DataFrame(self.records(kind))

    def plot(self) -> dict[str, Any]:
        """The report's figures as matplotlib ``Figure`` objects, by name (Jupyter shows them inline)."""
        from lrlab.reports.job import job_figures

        return job_figures(self.results)

    def report(self, folder: str | Path | None = None) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` (into the job's folder unless `folder` is given)."""
        from lrlab.reports.job import write_report

        target = folder if folder is not None else self.folder
        if target is None:
            raise ResultsError("this job was kept in memory: give report(folder) to write its report somewhere")
        return write_report(target, results=self.results)

    def table(self) -> str:
        """The final table as aligned text (the console's)."""
        head = ["schedule", "seeds", f"final {self.metric.name}", f"{LEVEL:.0%} interval", "diverged"]
        rows = [
            [
                row.label,
                str(row.runs),
                format_mean_std(row.mean, row.std, row.n),
                format_interval(row.ci_low, row.ci_high),
                str(row.diverged),
            ]
            for row in self.comparison.rows
        ]
        return format_table(head, rows)

    def __repr__(self) -> str:
        where = f" in {self.folder}" if self.folder is not None else ""
        state = "complete" if self.complete else "incomplete"
        return f"<JobResult: {len(self.results.runs)} runs{where}, {state}>\n{self.table()}\n{self.conclusion}"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in line.split("  ") if c) + "</tr>"
            for line in self.table().splitlines()
        )
        return f"<table>{rows}</table><p>{html.escape(self.conclusion)}</p>"


def _identity(config: Mapping[str, Any]) -> dict[str, Any]:
    return {"label": config.get("label"), "schedule": config.get("schedule"), "seed": config.get("seed")}


def _values(rec: Mapping[str, Any]) -> dict[str, Any]:
    skip = {"type", "run_id"}
    return {k: (math.nan if v is None else v) for k, v in rec.items() if k not in skip}


# -- running jobs -----------------------------------------------------------------------------------------------
def _pairs(schedules: Schedules | None, preset: Any) -> list[tuple[str, Schedule | str, OptimizerSpec | str | None]]:
    """(label, schedule, the run's own optimizer or None) per run of a seed."""
    pairs: list[tuple[str, Schedule | str, OptimizerSpec | str | None]] = []
    if preset is not None:
        pairs += [(r.label, r.schedule, None) for r in preset.runs]
    if isinstance(schedules, Mapping):
        pairs += [_run_pair(spec, str(label)) for label, spec in schedules.items()]
    elif schedules is not None:
        if isinstance(schedules, str | Schedule):
            schedules = [schedules]
        pairs += [_run_pair(spec, "") for spec in schedules]
    return pairs


def _run_pair(spec: Any, label: str) -> tuple[str, Schedule | str, OptimizerSpec | str | None]:
    """A spec, ``"[LABEL=]SCHEDULE[ @ OPTIMIZER]"`` or ``(schedule, optimizer)`` as (label, schedule, optimizer)."""
    if isinstance(spec, tuple) and len(spec) == 2:
        return label, spec[0], spec[1]
    if isinstance(spec, str):
        own_label, schedule, optimizer = run_spec(spec)
        return label or own_label, schedule, optimizer
    return label, spec, None


def compare(
    schedules: Schedules | None = None,
    *,
    experiment: Experiment | str | None = None,
    preset: str | None = None,
    seeds: int | Iterable[int] = 1,
    epochs: int | None = None,
    batch_size: int | None = None,
    per: str | None = None,
    optimizer: Any = None,
    data: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    fused: bool | str = "auto",
    tensorboard: bool | None = None,
    progress: bool | Listener = True,
    report: bool | None = None,
    threads: int | None = None,
    workers: int | str = "auto",
    precision: str | None = None,
) -> JobResult:
    """Train several schedules side by side on the same batches, over `seeds`, and return the `JobResult`.

    `schedules` is a list of specs or `Schedule` values (labelled by their
    spec) or a dict ``{label: spec}``; `preset` adds a shipped preset's
    schedules and options (``"chapter"``). `seeds` is a count (seeds 0..N-1)
    or a list. The training options not given come from the preset, then
    from `TrainConfig`'s defaults; `optimizer` is a spec such as
    ``"sgd(momentum=0.9)"`` (None: the experiment's). A run may bring its own
    optimizer: ``"warmup(constant(0.1), steps=2) @ schedulefree_sgd"`` or a
    pair ``(schedule, optimizer)``, e.g. a schedule-free baseline beside
    scheduled runs: ``{"cosine": "cosine(0.1, steps=30)", "schedule-free":
    ("warmup(constant(0.1), steps=2)", "schedulefree_sgd(momentum=0.9)")}``
    (a text spec may also start with ``LABEL=``). With `out` the job is
    written there (resumable with ``resume=True``; a folder holding other
    lrlab results is refused unless ``overwrite=True``, which removes them) with its report and, when
    tensorboard is installed, TensorBoard event files. `threads` is torch's
    intra-op thread count per run (None: one on the CPU); it is recorded, and a
    run's numbers depend on it. `workers` is how many processes train the
    runs (``"auto"``: the fastest count for this machine and job, printed at the
    start); the numbers do not depend on it. `precision` ``"bfloat16"`` runs the
    forward passes under torch's bfloat16 autocast (faster on CPUs with AVX-512
    BF16 or AMX; other numbers, kept apart by the job's identity).
    """
    from lrlab.lab.loggers import tensorboard_logger
    from lrlab.lab.progress import progress_listener
    from lrlab.lab.train import Listener, Run, Trainer

    loaded = None
    base = TrainConfig()
    if preset is not None:
        from lrlab.lab.presets import load_preset

        loaded = load_preset(preset)
        base = loaded.config
    if experiment is not None and not isinstance(experiment, str):
        base = base.replace(experiment=experiment.name)
    elif experiment is not None:
        base = base.replace(experiment=experiment)
    config = base.replace(epochs=epochs, batch_size=batch_size, per=per, optimizer=optimizer, precision=precision)
    pairs = _pairs(schedules, loaded)
    if not pairs:
        raise LrlabError("compare needs at least one schedule (or a preset such as preset='chapter')")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise LrlabError(f"seeds must be a count >= 1 or a non-empty list; got seeds={seeds!r}")
    runs = [Run(spec, seed, label, optimizer) for seed in seed_list for label, spec, optimizer in pairs]
    if isinstance(progress, Listener):
        listener: Listener = progress
    else:
        listener = progress_listener(quiet=False) if progress else Listener()
    logger = tensorboard_logger(out, tensorboard)
    trainer = Trainer(
        runs,
        config,
        experiment if experiment is not None else config.experiment,
        data=data,
        out=out,
        resume=resume,
        overwrite=overwrite,
        device=device,
        fused=fused,
        listener=listener,
        loggers=[logger] if logger is not None else [],
        threads=threads,
        workers=workers,
    )
    if progress:
        _say_plan(trainer, workers)
    trainer.run()
    result = JobResult(trainer.results())
    if out is not None and report is not False:
        result.report()
    return result


def _say_plan(trainer: Any, asked: int | str) -> None:
    """One line on how the job's runs are spread over processes and threads (and why, when it is not as asked)."""
    from lrlab.lab.workers import describe_plan

    if trainer.workers_note:
        print(f"note: {trainer.workers_note}", flush=True)
    print(describe_plan(len(trainer.runs), trainer.workers, trainer.threads, chosen=asked == "auto"), flush=True)


def train(
    schedule: Schedule | str,
    *,
    seed: int = 0,
    label: str = "",
    **options: Any,
) -> JobResult:
    """Train one schedule with one seed (a `compare` of one, with the same options) and return its `JobResult`."""
    return compare({label: schedule} if label else [schedule], seeds=[seed], **options)


def load(folder: str | Path) -> Any:
    """The result object of a folder written by ``train``/``compare`` (`JobResult`) or ``sweep`` (`SweepResult`)."""
    from lrlab.sweeps.run import is_sweep_folder

    if is_sweep_folder(folder):
        return SweepResult(folder)
    return JobResult(read_results(folder))


# -- the range test -----------------------------------------------------------------------------------------------
class RangeTestResult:
    """A learning-rate range test on an experiment: the measured curve, the suggestion and its rule, a figure.

    Everything of `lrlab.lab.findlr.FindLRResult` (``suggested_lr``, ``rule``,
    ``lrs``, ``losses``, ``schedule(template)``, ...) is available here too.
    """

    def __init__(self, result: Any, config: dict[str, Any]) -> None:
        self.result = result
        self.config = config

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result, name)

    def plot(self) -> Any:
        """Loss against rate with the suggestion and its rule marked, as a matplotlib ``Figure``."""
        from lrlab.reports.plots import find_lr_figure

        return find_lr_figure(self.result, title=self._title())

    def _title(self) -> str:
        return f"Learning-rate range test: {self.config['experiment']}, batch {self.config['batch_size']}"

    def records(self) -> list[dict[str, Any]]:
        """One dict per update: ``lr``, ``loss``, ``smoothed``."""
        r = self.result
        return [{"lr": a, "loss": b, "smoothed": c} for a, b, c in zip(r.lrs, r.losses, r.smoothed, strict=True)]

    def to_pandas(self) -> Any:
        """`records` as a pandas ``DataFrame``."""
        return _pandas().DataFrame(self.records())

    def save(self, folder: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Write ``find-lr.json`` (config, versions, the whole curve) and ``find-lr.png`` into `folder`.

        A folder holding lrlab results (an earlier range test's too) is refused
        unless `overwrite`, which removes them first.
        """
        import json
        import uuid

        from lrlab.errors import LabError
        from lrlab.lab.store import FolderLock, atomic_write_text, claim_folder, dumps
        from lrlab.lab.train import versions
        from lrlab.reports.plots import save_figure

        out = Path(folder)
        record = {
            "run_id": uuid.uuid4().hex[:12],
            "config": self.config,
            "versions": versions(),
            "result": self.result.to_dict(),
        }
        with FolderLock(out, error=LabError):
            claim_folder(out, marker="find-lr.json", resume=False, overwrite=overwrite, error=LabError)
            atomic_write_text(out / "find-lr.json", json.dumps(json.loads(dumps(record)), indent=1) + "\n")
            png = save_figure(self.plot(), out / "find-lr.png")
        return [out / "find-lr.json", png]

    def __repr__(self) -> str:
        return f"<RangeTestResult: {self.config['experiment']}>\n{self.result.describe()}"


def find_lr(
    experiment: Experiment | str | None = None,
    *,
    data: Any = None,
    optimizer: Any = None,
    start: float = 1e-5,
    end: float = 10.0,
    steps: int = 200,
    step_mode: str = "exp",
    validation: int = 0,
    batch_size: int | None = None,
    seed: int = 0,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    device: str = "cpu",
    progress: bool = True,
    threads: int | None = None,
) -> RangeTestResult:
    """Smith's range test on an experiment (default: the chapter's); see `lrlab.lab.findlr`.

    ``result.suggested_lr`` and ``result.rule_text`` say what it suggests and
    by which rule, ``result.schedule("cosine({lr}, steps=30)")`` applies it,
    ``result.plot()`` draws it. For a model without an experiment, call
    `lrlab.lab.findlr.find_lr(model, loss_fn, batches)` directly.
    """
    import torch

    from lrlab.lab.findlr import range_test

    bar = _progress_bar(steps) if progress else None
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        result, config = range_test(
            experiment if experiment is not None else TrainConfig().experiment,
            data=data,
            seed=seed,
            batch_size=batch_size or TrainConfig().batch_size,
            optimizer=optimizer,
            validation=validation,
            device=device,
            progress=None if bar is None else bar.advance,
            start=start,
            end=end,
            steps=steps,
            step_mode=step_mode,
            smoothing=smoothing,
            diverge_factor=diverge_factor,
        )
    finally:
        torch.set_num_threads(before)
        if bar is not None:
            bar.close()
    return RangeTestResult(result, {**config, "threads": threads or before})


class _progress_bar:
    """A rich bar of the range test's updates (plain text where rich cannot draw)."""

    def __init__(self, steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("range test"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.task = self.progress.add_task("updates", total=steps)
        self.progress.start()

    def advance(self, done: int, steps: int) -> None:
        self.progress.update(self.task, completed=done)

    def close(self) -> None:
        self.progress.stop()


# -- sweeps -------------------------------------------------------------------------------------------------------
class SweepResult:
    """A sweep folder's results: its trials' records, the table of settings, the conclusion, figures."""

    def __init__(self, folder: str | Path) -> None:
        from lrlab.sweeps.run import SWEEP, is_sweep_folder, read_trial_records
        from lrlab.sweeps.sweep import sweep_from_dict

        self.folder = Path(folder)
        if not is_sweep_folder(self.folder):
            raise ResultsError(f"{self.folder} is not a sweep folder (no {SWEEP}); give the --out folder of a sweep")
        import json

        self.stored = json.loads((self.folder / SWEEP).read_text())
        self.sweep = sweep_from_dict(self.stored["sweep"])
        self.trials = read_trial_records(self.folder)

    @property
    def complete(self) -> bool:
        """Whether every trial has finished."""
        return len(self.trials) == len(self.stored.get("trials", []))

    @property
    def summary(self) -> Any:
        """The settings' `lrlab.sweeps.summary.Summary` by the sweep's conclusion metric."""
        from lrlab.sweeps.summary import summarize

        results = [
            {"params": t.params, "seed": t.seed, "metrics": t.metrics, "diverged": t.diverged} for t in self.trials
        ]
        return summarize(results, self.sweep.conclusion_metric)

    @property
    def conclusion(self) -> str:
        """One sentence: the best setting, its lead over the runner-up, and whether that lead exceeds seed noise."""
        from lrlab.sweeps.summary import conclusion

        return conclusion(self.summary) if self.trials else "No trial has finished yet."

    def records(self, kind: str = "trials") -> list[dict[str, Any]]:
        """Plain dicts: one per trial (``"trials"``), trial and epoch (``"epochs"``) or setting (``"final"``)."""
        from lrlab.sweeps.run import TRIALS

        if kind == "trials":
            return [
                {
                    **t.params,
                    "seed": t.seed,
                    "trial_id": t.trial_id,
                    "spec": t.spec,
                    "status": t.status,
                    "diverged_epoch": t.diverged_epoch,
                    **t.metrics,
                }
                for t in self.trials
            ]
        if kind == "epochs":
            rows = []
            for t in self.trials:
                (run,) = read_results(self.folder / TRIALS / t.trial_id).runs
                rows += [{**t.params, "seed": t.seed, "trial_id": t.trial_id, **_values(rec)} for rec in run.epochs]
            return rows
        if kind == "final":
            return [row.as_dict() for row in self.summary.ranked()] if self.trials else []
        raise LrlabError(f"kind must be 'trials', 'epochs' or 'final'; got kind={kind!r}")

    def to_pandas(self, kind: str = "trials") -> Any:
        """`records` as a pandas ``DataFrame``."""
        return _pandas().DataFrame(self.records(kind))

    def table(self) -> str:
        """The table of settings as aligned text (the console's)."""
        return str(self.summary.format()) if self.trials else "(no trial has finished)"

    def plot(self) -> dict[str, Any]:
        """The sweep report's figures as matplotlib ``Figure`` objects, by name."""
        from lrlab.reports.sweep import sweep_figures

        return sweep_figures(self.folder)

    def report(self) -> tuple[Path, Path]:
        """Write ``report.md`` and ``report.html`` into the sweep's folder."""
        from lrlab.reports.sweep import write_sweep_report

        return write_sweep_report(self.folder)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "incomplete"
        return f"<SweepResult: {len(self.trials)} trials in {self.folder}, {state}>\n{self.table()}\n{self.conclusion}"


def sweep(
    template: Any = None,
    *,
    preset: str | None = None,
    grid: Mapping[str, Any] | None = None,
    random: Mapping[str, Any] | None = None,
    trials: int | None = None,
    search_seed: int | None = None,
    seeds: int | Iterable[int] | None = None,
    epochs: int | None = None,
    per: str | None = None,
    batch_size: int | None = None,
    optimizer: Any = None,
    experiment: Experiment | str | None = None,
    metric: str | None = None,
    data: Any = None,
    out: str | Path | None = None,
    backend: str = "local",
    address: str | None = None,
    overwrite: bool = False,
    max_concurrent: int | None = None,
    asha: bool = False,
    device: str = "cpu",
    progress: bool = True,
    report: bool = True,
    threads: int | None = None,
    workers: int | str = "auto",
) -> SweepResult:
    """Run a sweep -- a schedule template over a grid or random search, with seeds -- and return its `SweepResult`.

    `template` is a spec with placeholders (``"cosine({lr}, steps=30)"``) or
    a `lrlab.sweeps.sweep.Sweep`; `preset` starts from a shipped sweep
    (``"exercise-warmup-length"``); `grid` maps a parameter to values or a
    range (``{"lr": "log:1e-3:1:7"}``), `random` to a distribution
    (``{"lr": "loguniform:1e-3:1"}``, with `trials`). The given options replace
    the preset's. The trials run on `backend` (``"local"`` or ``"ray"``) into
    `out` (a new temporary folder when None); rerun with the same `out` to
    resume (a folder holding other lrlab results is refused unless
    ``overwrite=True``, which removes them). `experiment` may be an `Experiment` value (sent to Ray workers
    by value). The local backend trains `workers` trials at a time in worker
    processes (``"auto"``: the fastest count here), each with `threads` torch
    threads (default one); the numbers do not depend on `workers`.
    """
    import tempfile

    from lrlab.sweeps.run import run_sweep
    from lrlab.sweeps.sweep import Sweep, plan_sweep

    name = experiment if isinstance(experiment, str) or experiment is None else experiment.name
    plan = plan_sweep(
        template if isinstance(template, Sweep) else preset,
        template=None if isinstance(template, Sweep) else template,
        grid=grid,
        random=random,
        seeds=seeds if seeds is None or isinstance(seeds, int) else list(seeds),
        options={
            "batch_size": batch_size,
            "optimizer": None if optimizer is None else str(optimizer),
            "experiment": name,
        },
        trials=trials,
        search_seed=search_seed,
        epochs=epochs,
        per=per,
        conclusion_metric=metric,
    )
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="lrlab-sweep-"))
    run_sweep(
        plan,
        folder,
        backend=backend,
        address=address,
        overwrite=overwrite,
        data=data,
        experiment=experiment if experiment is not None and not isinstance(experiment, str) else None,
        device=device,
        quiet=not progress,
        asha=asha,
        max_concurrent=max_concurrent,
        threads=threads,
        workers=workers,
    )
    result = SweepResult(folder)
    if report:
        result.report()
    return result
