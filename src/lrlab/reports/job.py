"""The report of a training job (``lrlab train`` or ``compare``), drawn from its result files only (no torch).

`write_report(folder)` reads ``job.json`` and ``metrics.jsonl`` and writes
beside them ``report.md`` with its PNG files, and ``report.html``, one file
with the same figures embedded (`lrlab.reports.page`). The page says:

* what ran: the experiment (name and description), the optimizer, batch size,
  epochs (done and planned), what one step of the schedule is, the data, the
  versions and threads;
* the **conclusion**: `lrlab.lab.summary.job_comparison`'s sentence -- the
  best schedule by the experiment's goal metric, its lead, and whether the
  lead is larger than seed-to-seed noise (a single-run job is a compare of one);
* the final table: each schedule's final value of every metric the
  experiment records (mean ± std over the seeds that did not diverge, one
  number format: `lrlab.lab.stats`) and the goal metric's 95% interval;
* the runs that diverged;
* the figures of `job_figures`: the rates as used, all schedules side by side,
  and one figure per schedule;
* for an experiment compared with the d2l chapter (``reference = "chapter"``),
  the book's printed numbers beside each of its schedules and what lrlab runs
  differently from the book's code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lrlab.errors import LrlabError
from lrlab.lab.experiments import reference
from lrlab.lab.stats import LEVEL, Comparison, Metric, estimate, format_interval, format_mean_std
from lrlab.lab.store import JobResults, RunResults, read_results
from lrlab.lab.summary import final_value, goal_of, job_comparison
from lrlab.reports.page import Bullets, Image, Page, Paragraph, Section, Table
from lrlab.reports.plots import (
    RATES_DONE,
    band,
    epoch_axes,
    legend_below,
    line_width,
    metric_title,
    new_figure,
    png_bytes,
    rate_steps,
    scale_y,
)
from lrlab.schedules.spec import parse

__all__ = ["job_figures", "job_page", "write_report"]

#: keys of an epoch record that are not metrics
_NOT_METRICS = {"type", "run_id", "epoch", "lr_first", "lr_last", "seconds", "epoch_seconds", "images", "diverged"}

DIFFERENCES = """\
lrlab runs what the chapter's text describes, so some runs differ from what the book's code did:

- **No one-epoch lag.** Epoch *e* (from 0) trains at `schedule(e)`. The book's PyTorch loop sets the rate
  at the end of each epoch from the epoch just finished, so its epoch 0 runs at the optimizer's initial
  rate and epoch *e* at `schedule(e-1)`: its warmup run spends epoch 0 at 0.3 and epoch 1 at 0.
- **Multi-factor really decays 0.5 → 0.25 at epoch 15.** The book's PyTorch run reused a `MultiStepLR`
  that the plotting cell had already stepped 30 times, so it trained at a constant 0.125.
- **Cosine spans 20 epochs.** The MXNet tab's schedulers count updates, so its 20-step cosine (and the
  warmup) ended within the first epoch and the rest ran at 0.01; its square root decayed per update.
- **Same batches for every schedule of a seed** (a paired comparison), drawn from a seeded
  `torch.Generator`; the book reshuffles independently for each run. The TF tab is a different network
  (average pooling, a sigmoid 84-unit layer): the experiment `fashion-mnist-lenet-tf` trains it.
- Train loss and train accuracy are running averages over the epoch's minibatches while the weights
  change, and test accuracy is measured on {test_set} after the epoch, as the book prints them.
"""


# -- what the folder says about the job ---------------------------------------------------------------
@dataclass(frozen=True)
class JobInfo:
    """What ran, read from ``job.json`` with the first run record as fallback (folders of earlier versions)."""

    job_id: str
    experiment: str
    description: str
    metrics: tuple[str, ...]
    goal: Metric
    reference: str | None
    optimizer: str
    batch_size: Any
    per: str
    epochs_planned: int
    epochs_done: int
    complete: bool
    data: str
    test_examples: int | None
    versions: Mapping[str, Any]
    device: str
    threads: Any

    @classmethod
    def of(cls, results: JobResults) -> JobInfo:
        job = results.job
        first = results.runs[0].config
        config = (job.get("identity") or {}).get("config") or {}
        recorded = job.get("experiment")
        exp: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        model = first.get("model") or {}
        old_model = f"LeNet ({model.get('variant', '?')}, init {model.get('init', '?')})" if model else ""
        done = max(len(r.epochs) for r in results.runs)  # runs that diverged stopped earlier
        keys = ("lrlab", "torch", "python")
        return cls(
            job_id=str(job.get("job_id") or first.get("job_id", "?")),
            experiment=str(exp.get("name") or first.get("experiment") or "(not recorded)"),
            description=str(exp.get("description") or old_model),
            metrics=tuple(exp.get("metrics") or _metrics_in(results)),
            goal=goal_of(results),
            # a folder without an experiment record predates experiments: every job then was the chapter's
            reference=exp.get("reference") if recorded is not None else "chapter",
            optimizer=_optimizers(results, config),
            batch_size=config.get("batch_size", first.get("batch_size", "?")),
            per=str(config.get("per") or first.get("per", "epoch")),
            epochs_planned=int(config.get("epochs") or first.get("epochs") or done),
            epochs_done=done,
            complete=results.complete,
            data=str(first.get("data") or (job.get("identity") or {}).get("data") or "?"),
            test_examples=exp.get("test_examples"),
            versions=job.get("versions") or {k: first[k] for k in keys if k in first},
            device=str(job.get("device") or first.get("device", "?")),
            threads=job.get("threads_per_run", first.get("threads_per_run")),
        )

    def header(self) -> tuple[str, ...]:
        """The lines under the page's title."""
        if self.complete:
            state = "complete"
        else:
            state = f"incomplete: {self.epochs_done} of {self.epochs_planned} epochs done (resume with --resume)"
        epochs = (
            f"{self.epochs_planned} epochs" if self.complete else f"{self.epochs_done} of {self.epochs_planned} epochs"
        )
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items()) or "versions not recorded"
        threads = "" if self.threads is None else f", {self.threads} thread{'' if self.threads == 1 else 's'} per run"
        return (
            f"experiment `{self.experiment}`" + (f": {self.description}" if self.description else ""),
            f"job `{self.job_id}` ({state})",
            f"optimizer {self.optimizer}, batch size {self.batch_size}, {epochs}, schedule applied per {self.per}",
            f"data: {self.data}",
            f"{versions}; device {self.device}{threads}",
        )

    @property
    def test_set(self) -> str:
        """How the text names the test data: with its real size when the folder records it."""
        return "the test set" if self.test_examples is None else f"the {self.test_examples:,} test images"


def _optimizers(results: JobResults, config: Mapping[str, Any]) -> str:
    """The job's optimizer, then each run's own where one named it: ``SGD (...), except schedule-free: ...``."""

    def text(run: RunResults) -> str:
        return str(run.config.get("optimizer_text") or run.config.get("optimizer") or config.get("optimizer") or "SGD")

    shared = [run for run in results.runs if not run.config.get("run_optimizer")]
    own = {run.label: text(run) for run in results.runs if run.config.get("run_optimizer")}
    if not own:
        return text(results.runs[0])
    listed = "; ".join(f"{label}: {name}" for label, name in own.items())
    return f"{text(shared[0])}, except {listed}" if shared else listed


def _metrics_in(results: JobResults) -> list[str]:
    """The metric keys of the epoch records, losses first (for folders that do not list them)."""
    keys: dict[str, None] = {}
    for run in results.runs:
        for rec in run.epochs:
            keys.update((k, None) for k in rec if k not in _NOT_METRICS)
    order = {"train_loss": 0, "test_loss": 2}
    return sorted(keys, key=lambda k: order.get(k, 1 if k.startswith("train_") else 3))  # stable: record order


# -- the book's numbers ---------------------------------------------------------------------------------
def _book(results: JobResults, info: JobInfo) -> dict[str, dict[str, Any]] | None:
    """The chapter's printed runs by schedule spec, when this job ran one of them the chapter's way (else None)."""
    if info.reference != "chapter":
        return None
    book = reference("chapter")
    if info.per != book.get("per", "epoch"):
        return None
    entries = {
        e["schedule"]: {**e, "epochs": book.get("epochs", 30), "source": book["sources"]["pytorch"]}
        for e in book["experiments"]
    }
    ran = {str(run.config.get("schedule")) for run in results.runs}
    return entries if ran & set(entries) else None


# -- figures ---------------------------------------------------------------------------------------------
def job_figures(results: JobResults) -> dict[str, Figure]:
    """The report's figures by name: ``"lr"``, ``"compare"``, then ``"run: <label>"`` per schedule."""
    info = JobInfo.of(results)
    figures = {"lr": _lr_figure(results), "compare": _compare_figure(results, info)}
    for label, runs in results.by_label().items():
        figures[f"run: {label}"] = _run_figure(label, runs, info)
    return figures


def _rates(run: RunResults) -> tuple[Any, Any]:
    """x, y of `run`'s rates as used: per epoch its records' ``lr_first``; per step its schedule at each update."""
    per_epoch = run.config.get("batches_per_epoch")
    if run.config.get("per") == "step" and isinstance(per_epoch, int) and per_epoch > 0:
        t = np.arange(len(run.epochs) * per_epoch, dtype=np.float64)
        try:  # the schedule on the job's clock: bound when it was written with units
            schedule = parse(str(run.config.get("bound_schedule") or run.config["schedule"]))
            rates = np.asarray(schedule(t), dtype=np.float64)
        except LrlabError:  # a spec of another lrlab version: the records alone
            rates = None
        if rates is not None:
            return rate_steps(rates, per_epoch)
    return rate_steps(run.series("lr_first"))


def _lr_figure(results: JobResults) -> Figure:
    groups = results.by_label()
    fig = new_figure(7.5, 4.2, legend=list(groups))
    ax = fig.subplots()
    step = False
    for label, runs in groups.items():
        run = max(runs, key=lambda r: len(r.epochs))
        if not run.epochs:
            continue
        x, y = _rates(run)
        (line,) = ax.plot(x, y, drawstyle="steps-pre", lw=line_width(len(groups)), label=label)
        if run.config.get("per") == "step":
            step = True
            done = np.arange(1, len(run.epochs) + 1)
            ax.plot(done, run.series("lr_last"), "o", ms=3, color=line.get_color())
    title = "learning rate as used" + (" (dots: each epoch's last update, as recorded)" if step else "")
    epoch_axes(ax, title, label=RATES_DONE)
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    legend_below(fig)
    return fig


def _compare_figure(results: JobResults, info: JobInfo) -> Figure:
    """Every schedule on the same axes, one panel per metric: the comparison at a glance."""
    groups = results.by_label()
    metrics = info.metrics or ("train_loss",)
    cols = min(len(metrics), 2 if len(metrics) == 4 else 3)
    rows = math.ceil(len(metrics) / cols)
    fig = new_figure(4.6 * cols, 3.3 * rows, legend=list(groups))
    axes = fig.subplots(rows, cols, squeeze=False).flat
    for ax, metric in zip(axes, metrics, strict=False):
        drawn = [
            band(ax, [r.series(metric) for r in runs], label=label, lines=len(groups)) for label, runs in groups.items()
        ]
        scale_y(ax, drawn, log="loss" in metric)
        epoch_axes(ax, metric_title(metric))
    for ax in list(axes)[len(metrics) :]:
        ax.set_visible(False)
    seeds = max(len(runs) for runs in groups.values())
    note = f"mean of {seeds} seeds, band: min..max" if seeds > 1 else "one seed"
    fig.suptitle(f"all schedules side by side ({note})", fontsize=10)
    legend_below(fig)
    return fig


def _run_figure(label: str, runs: list[RunResults], info: JobInfo) -> Figure:
    """The chapter's figure: every metric of one schedule against epochs (mean over seeds, band: min..max)."""
    metrics = info.metrics or ("train_loss",)
    fig = new_figure(5.5, 3.8, legend=[metric_title(m) for m in metrics])
    ax = fig.subplots()
    styles = {"train": "-", "test": "--"}
    drawn = [
        band(ax, [r.series(m) for r in runs], label=metric_title(m), style=styles.get(m.split("_")[0], "-."))
        for m in metrics
    ]
    scale_y(ax, drawn, zero=True)
    diverged = [r for r in runs if r.diverged_epoch is not None]
    for r in diverged:
        ax.axvline(r.diverged_epoch or 0, color="red", lw=0.8, ls=":")
    seeds = f"{len(runs)} seeds, mean and min..max" if len(runs) > 1 else f"seed {runs[0].seed}"
    extra = f"; {len(diverged)} diverged (red)" if diverged else ""
    epoch_axes(ax, f"{label}\n{seeds}{extra}")
    legend_below(fig)
    return fig


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"


def _images(figures: Mapping[str, Figure]) -> dict[str, Image]:
    """Each figure rendered to PNG, with the file name it gets beside ``report.md``."""
    images: dict[str, Image] = {}
    used: set[str] = set()
    for key, fig in figures.items():
        name = key if key in ("lr", "compare") else "run-" + _slug(key.removeprefix("run: "))
        while name in used:
            name += "-x"
        used.add(name)
        title = {"lr": "learning rates", "compare": "all schedules side by side"}.get(key, key.removeprefix("run: "))
        images[key] = Image(title, f"report-{name}.png", png_bytes(fig))
    return images


# -- the page ----------------------------------------------------------------------------------------------
def _table(results: JobResults, info: JobInfo, comparison: Comparison, book: Mapping[str, Any] | None) -> Table:
    goal = info.goal.name
    head = [
        "schedule",
        "seeds",
        *(metric_title(m) for m in info.metrics),
        f"{metric_title(goal)}: {LEVEL:.0%} interval",
    ]
    if book is not None:
        head += ["book PyTorch (1.0.3): loss / train / test", "book re-runs: test acc median [min, max]"]
    head.append("diverged")
    groups = results.by_label()
    rows = []
    for stats in comparison.rows:
        runs = groups[stats.label]
        spec = str(runs[0].config.get("schedule", ""))
        own = runs[0].config.get("run_optimizer")  # a run that named its own optimizer (``schedule @ optimizer``)
        shown, plain = (f"`{spec}` with `{own}`", f"{spec} @ {own}") if own else (f"`{spec}`", spec)
        cells = [shown if stats.label == plain else f"{stats.label}: {shown}", str(stats.runs)]
        for metric in info.metrics:
            e = estimate([final_value(r, metric) for r in runs], bounds=Metric.parse(metric).bounds)
            cells.append(format_mean_std(e.mean, e.std, e.n))
        cells.append(format_interval(stats.ci_low, stats.ci_high))
        if book is not None:
            cells += _book_cells(book.get(spec), max(len(r.epochs) for r in runs))
        diverged = [(r.seed, r.diverged_epoch) for r in runs if r.diverged_epoch is not None]
        cells.append(", ".join(f"seed {s} in epoch {e}" for s, e in diverged) or "none")
        rows.append(tuple(cells))
    return Table(tuple(head), tuple(rows))


def _book_cells(entry: Mapping[str, Any] | None, epochs: int) -> list[str]:
    if entry is None:
        return ["-", "-"]
    p, b = entry["pytorch"], entry["pytorch_band"]
    printed = f"{p['train_loss']:.3f} / {p['train_acc']:.3f} / {p['test_acc']:.3f}"
    if epochs != entry["epochs"]:
        printed += f" (after {entry['epochs']} epochs; this run: {epochs})"
    return [printed, f"{b['test_acc_median']:.3f} [{b['test_acc_min']:.3f}, {b['test_acc_max']:.3f}]"]


def _note(info: JobInfo, book: Mapping[str, Any] | None) -> str:
    text = (
        "Final epoch: mean ± sample standard deviation over the seeds that did not diverge; the "
        f"{LEVEL:.0%} interval of {metric_title(info.goal.name)} (the goal, `{info.goal}`) is "
        "mean ± t(0.975, n-1)·std/√n over those seeds."
    )
    if book:
        source = next(iter(book.values()))["source"]
        text += (
            " The book's numbers are one printed run each (d2l.ai 1.0.3, PyTorch tab) and the range its "
            f"unchanged code gave over 35 builds; source: {source}."
        )
    return text


def _differences(results: JobResults, info: JobInfo, book: Mapping[str, Any]) -> list[Section]:
    intro, items = DIFFERENCES.format(test_set=info.test_set).split("\n\n", 1)
    bullets = tuple(" ".join(item.split()) for item in re.split(r"\n- ", "\n" + items.strip())[1:])
    blocks: list[Any] = [Paragraph(" ".join(intro.split())), Bullets(bullets)]
    ran = [
        f"{label}: {book[spec]['pytorch_ran']}"
        for label, runs in results.by_label().items()
        if (spec := str(runs[0].config.get("schedule"))) in book
    ]
    if ran:
        blocks += [Paragraph("What the book's PyTorch tab actually ran:"), Bullets(tuple(ran))]
    return [Section("What lrlab runs differently from the book's code", tuple(blocks))]


def job_page(results: JobResults) -> Page:
    """The report of `results` as a `lrlab.reports.page.Page`, its figures those of `job_figures`."""
    info = JobInfo.of(results)
    book = _book(results, info)
    comparison = job_comparison(results)
    images = _images(job_figures(results))
    sections = [
        Section("Conclusion", (Paragraph(comparison.sentence),)),
        Section("Final epoch", (_table(results, info, comparison, book), Paragraph(_note(info, book)))),
    ]
    diverged = [
        f"{run.label}, seed {run.seed}: epoch {run.diverged_epoch}"
        for run in results.runs
        if run.diverged_epoch is not None
    ]
    if diverged:
        lead = "**Diverged** (loss became NaN or infinite; the run was stopped, the others went on):"
        sections.append(Section("Diverged runs", (Paragraph(lead), Bullets(tuple(diverged)))))
    sections.append(Section("Learning rates", (images.pop("lr"),)))
    sections.append(Section("Side by side", (images.pop("compare"),)))
    sections.append(Section("Each schedule", tuple(images.values())))
    if book is not None:
        sections += _differences(results, info, book)
    return Page("lrlab report", header=info.header(), sections=tuple(sections))


def write_report(folder: str | Path, *, results: JobResults | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` (PNGs beside it) and a self-contained ``report.html`` into `folder`; returns both.

    `results` defaults to what `lrlab.lab.store.read_results` reads from `folder`.
    """
    folder = Path(folder)
    if results is None:
        results = read_results(folder)
    return job_page(results).write(folder)
