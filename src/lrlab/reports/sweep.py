"""The report of a sweep folder (`lrlab.sweeps.run`), drawn from its result files only (no torch).

`write_sweep_report(folder)` reads ``sweep.json``, each finished trial's
``result.json`` and ``metrics.jsonl``, and writes ``report.md`` (with PNG
files beside it) and a self-contained ``report.html`` (`lrlab.reports.page`):
the one-sentence conclusion, the table of settings (mean ± std and 95%
interval of the final metric over seeds, mean final train loss, diverged
count), and the figures of `sweep_figures`: the swept schedules as trained,
the final metric against each swept parameter (error bars: the 95% interval;
a log axis for log-spaced values, whole-number ticks for integer ones) and the
curves of the best and worst settings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lrlab.lab.stats import LEVEL
from lrlab.lab.store import ResultsError, RunResults, read_results
from lrlab.reports import plots
from lrlab.reports.page import Bullets, Image, Page, Paragraph, Section, Table
from lrlab.schedules.spec import parse
from lrlab.schedules.units import bind, has_units
from lrlab.sweeps.run import SWEEP, TRIALS, TrialRecord, is_sweep_folder, read_trial_records
from lrlab.sweeps.summary import SettingSummary, Summary, conclusion, summarize
from lrlab.sweeps.sweep import Sweep, setting_id, sweep_from_dict

__all__ = ["is_sweep_folder", "sweep_figures", "sweep_page", "sweep_table", "write_sweep_report"]

#: more settings than this: the schedules panel has no legend (the table names them)
_LEGEND_MAX = 12


class _Folder:
    """A sweep folder as read once: ``sweep.json``, the sweep, its finished trials and their summary."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder)
        if not is_sweep_folder(self.path):
            raise ResultsError(f"{self.path} is not a sweep folder (no {SWEEP}); give the --out folder of lrlab sweep")
        self.stored: dict[str, Any] = json.loads((self.path / SWEEP).read_text())
        self.sweep: Sweep = sweep_from_dict(self.stored["sweep"])
        self.records: list[TrialRecord] = read_trial_records(self.path)
        self.summary: Summary | None = None
        if self.records:
            results = [
                {"params": r.params, "seed": r.seed, "metrics": r.metrics, "diverged": r.diverged} for r in self.records
            ]
            self.summary = summarize(results, self.sweep.conclusion_metric)

    def setting_records(self, row: SettingSummary) -> list[TrialRecord]:
        sid = setting_id(row.params)
        return [r for r in self.records if setting_id(r.params) == sid]

    def runs(self, row: SettingSummary) -> list[RunResults]:
        """The runs of a setting's finished trials (one per seed)."""
        return [run for r in self.setting_records(row) for run in read_results(self.path / TRIALS / r.trial_id).runs]


def sweep_table(summary: Summary) -> Table:
    """The report's table: one row per setting, numbers in `lrlab.lab.stats`' one format (as the console's)."""
    head, rows = summary.cells(plots.metric_title(summary.metric.name))
    return Table(tuple(head), tuple(tuple(r) for r in rows))


# -- figures ----------------------------------------------------------------------------------------
def sweep_figures(folder: str | Path) -> dict[str, Figure]:
    """The report's figures by name: ``"schedules"``, ``"param: <name>"`` per parameter, ``"curves"``.

    Empty while no trial has finished.
    """
    return _figures(_Folder(folder))


def _figures(sf: _Folder) -> dict[str, Figure]:
    if sf.summary is None:
        return {}
    figures = {"schedules": _schedules_figure(sf, sf.summary)}
    for name in sf.sweep.parameters:
        figures[f"param: {name}"] = _parameter_figure(sf.sweep, sf.summary, name)
    ranked = sf.summary.ranked()
    if ranked:
        picks = [("best", ranked[0])] + ([("worst", ranked[-1])] if len(ranked) > 1 else [])
        figures["curves"] = _curves_figure(sf, picks)
    return figures


def _schedules_figure(sf: _Folder, summary: Summary) -> Figure:
    """Each setting's schedule over the sweep's epochs, as its trials trained it (per epoch or per update)."""
    rows = list(summary.rows)
    legend = [r.name for r in rows] if len(rows) <= _LEGEND_MAX else []
    fig = plots.new_figure(7.5, 4.2, legend=legend)
    ax = fig.subplots()
    for row in rows:
        record = sf.setting_records(row)[0]
        schedule = parse(record.spec)
        per_epoch = batches = 1
        if sf.sweep.per == "step" or has_units(schedule):
            config = read_results(sf.path / TRIALS / record.trial_id).runs[0].config
            batches = int(config.get("batches_per_epoch") or 1)
            per_epoch = batches if sf.sweep.per == "step" else 1
        if has_units(schedule):  # on the trials' clock, as the trainer bound it
            schedule = bind(schedule, per=sf.sweep.per, steps_per_epoch=batches, epochs=int(sf.sweep.epochs))
        t = np.arange(sf.sweep.epochs * per_epoch, dtype=np.float64)
        x, y = plots.rate_steps(np.asarray(schedule(t), dtype=np.float64), per_epoch)
        ax.plot(x, y, drawstyle="steps-pre", lw=plots.line_width(len(rows)), label=row.name if legend else None)
    unit = "update" if sf.sweep.per == "step" else "epoch"
    count = "" if legend else f", {len(rows)} settings"
    plots.epoch_axes(ax, f"the swept schedules, applied per {unit}{count}", label=plots.RATES_DONE)
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    plots.legend_below(fig)
    return fig


def _log_axis(sweep: Sweep, name: str, values: Sequence[float]) -> bool:
    if name in sweep.random:
        return sweep.random[name].kind == "loguniform"
    xs = np.array(sorted(set(values)), dtype=np.float64)
    if xs.size < 3 or np.any(xs <= 0) or xs[-1] / xs[0] < 10:
        return False
    lin, log = np.diff(xs), np.diff(np.log(xs))
    return bool(np.std(log) / np.mean(log) < np.std(lin) / np.mean(lin))


def _parameter_figure(sweep: Sweep, summary: Summary, name: str) -> Figure:
    """The final metric against parameter `name`; one line per value of the other parameters (if few)."""
    others = [p for p in sweep.parameters if p != name]
    groups: dict[str, list[SettingSummary]] = {}
    for row in summary.rows:
        groups.setdefault(", ".join(f"{p}={row.params[p]:g}" for p in others), []).append(row)
    lines = len(groups) <= 8
    fig = plots.new_figure(6.5, 4.0, legend=list(groups) if others and lines else [])
    ax = fig.subplots()
    for key, rows in groups.items():
        rows = sorted(rows, key=lambda r: float(r.params[name]))
        x = np.array([float(r.params[name]) for r in rows])
        y = np.array([r.mean for r in rows])
        low = np.array([r.mean - r.ci_low if math.isfinite(r.ci_low) else 0.0 for r in rows])
        high = np.array([r.ci_high - r.mean if math.isfinite(r.ci_high) else 0.0 for r in rows])
        fmt = "o-" if lines else "o"
        ax.errorbar(
            x, y, yerr=[low, high], fmt=fmt, capsize=3, ms=4, lw=plots.line_width(len(groups)), label=key or None
        )
    values = [float(r.params[name]) for r in summary.rows]
    if _log_axis(sweep, name, values):
        ax.set_xscale("log")
        plots.readable_log(ax.xaxis, min(values), max(values))
    elif all(float(v).is_integer() for v in values):
        plots.integer_ticks(ax.xaxis)
    metric = plots.metric_title(summary.metric.name)
    ax.set_xlabel(name)
    ax.set_ylabel(f"final {metric}")
    ax.set_title(f"final {metric} against {name} (mean over seeds, bars: {LEVEL:.0%} interval)", fontsize=9)
    ax.grid(alpha=0.3)
    if others and lines:
        plots.legend_below(fig)
    return fig


def _curves_figure(sf: _Folder, picks: list[tuple[str, SettingSummary]]) -> Figure:
    """The conclusion metric and the train loss against epochs for the best and worst settings."""
    keys = list(dict.fromkeys([sf.sweep.conclusion_metric.name, "train_loss"]))
    labels = [f"{title}: {row.name}" for title, row in picks]
    fig = plots.new_figure(5 * len(keys), 3.8, legend=labels)
    axes = fig.subplots(1, len(keys), squeeze=False).flat
    runs = {label: sf.runs(row) for label, (_, row) in zip(labels, picks, strict=True)}
    for ax, key in zip(axes, keys, strict=True):
        drawn = [
            plots.band(ax, [r.series(key) for r in runs[label]], label=label, color=color)
            for label, color in zip(labels, ("tab:green", "tab:red"), strict=False)
        ]
        plots.scale_y(ax, drawn, log="loss" in key)
        plots.epoch_axes(ax)
        ax.set_ylabel(plots.metric_title(key))
    fig.suptitle("best and worst settings (mean over seeds, band: min..max)", fontsize=9)
    plots.legend_below(fig)
    return fig


# -- the page ---------------------------------------------------------------------------------------
_FILES = {
    "schedules": ("the swept schedules", "report-schedules.png"),
    "curves": ("best and worst settings", "report-curves.png"),
}


def _image(key: str, fig: Figure) -> Image:
    if key.startswith("param: "):
        name = key.removeprefix("param: ")
        title, file = f"final metric against {name}", f"report-param-{name}.png"
    else:
        title, file = _FILES[key]
    return Image(title, file, plots.png_bytes(fig))


def _header(sf: _Folder) -> tuple[str, ...]:
    sweep, total = sf.sweep, len(sf.stored.get("trials", []))
    done = len(sf.records)
    state = "complete" if done == total else f"incomplete: {done} of {total} trials finished"
    versions = sf.stored.get("versions", {})
    grid = "; ".join(f"{k} = {', '.join(f'{v:g}' for v in vs)}" for k, vs in sweep.grid.items())
    random = "; ".join(f"{k} ~ {d}" for k, d in sweep.random.items())
    lines = [
        f"template: `{sweep.template}`",
        f"trials: {total} ({state}); fingerprint `{sf.stored.get('fingerprint')}`",
    ]
    if grid:
        lines.append(f"grid: {grid}")
    if random:
        lines.append(f"random search: {random} ({sweep.trials} draws, search seed {sweep.search_seed})")
    lines += [
        f"seeds: {', '.join(str(s) for s in sweep.seeds)}; {sweep.epochs} epochs, schedule applied per {sweep.per}",
        f"data: {sf.stored.get('data', '?')}",
        *([f"options: {', '.join(f'{k}={v}' for k, v in sweep.options.items())}"] if sweep.options else []),
        ", ".join(f"{k} {v}" for k, v in versions.items()) or "versions not recorded",
    ]
    return tuple(lines)


_NOTE = (
    "Mean ± sample standard deviation over seeds of the final-epoch value; the 95% interval is "
    "mean ± t(0.975, n-1)·std/√n, clipped to the values the metric can take (an accuracy stays in [0, 1]). "
    "A diverged trial counts where its value is finite."
)


def sweep_page(folder: str | Path) -> Page:
    """The report of the sweep in `folder` as a `lrlab.reports.page.Page`."""
    sf = _Folder(folder)
    sweep, summary = sf.sweep, sf.summary
    sections = [Section("Conclusion", (Paragraph(conclusion(summary) if summary else "No trial has finished yet."),))]
    if summary is not None:
        sections.append(Section("Settings", (sweep_table(summary), Paragraph(_NOTE))))
    stopped = [r for r in sf.records if r.status == "stopped"]
    if stopped:
        lead = Paragraph("**Stopped early by ASHA** (their numbers are from their last epoch):")
        items = Bullets(tuple(f"{r.trial_id} after {r.epochs_done} epochs" for r in stopped))
        sections.append(Section("Stopped trials", (lead, items)))
    images = [_image(key, fig) for key, fig in _figures(sf).items()]
    if images:
        sections.append(Section("Figures", tuple(images)))
    title = f"lrlab sweep: {sweep.name}" if sweep.name else "lrlab sweep"
    return Page(title, lead=sweep.describe(), header=_header(sf), sections=tuple(sections))


def write_sweep_report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (+ PNGs) and a self-contained ``report.html`` into `folder`; returns (md, html)."""
    return sweep_page(folder).write(folder)
