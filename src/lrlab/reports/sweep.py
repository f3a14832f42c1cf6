"""The report of a sweep folder (`lrlab.sweeps.run`), drawn from its result files only (no torch).

`write_sweep_report(folder)` reads ``sweep.json``, each finished trial's
``result.json`` and ``metrics.jsonl``, and writes ``report.md`` (with PNG
files beside it) and a self-contained ``report.html`` (the PNGs embedded as
base64): the table of settings (mean ± std and 95% interval of the final
metric over seeds, mean final train loss, diverged count), the one-sentence
conclusion, the final metric against each swept parameter (error bars: the 95%
interval; a log axis for log-spaced values) and the curves of the best and
worst settings.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.lab.store import ResultsError, RunResults, atomic_write_bytes, atomic_write_text, read_results
from lrlab.reports.plots import pyplot
from lrlab.sweeps.run import SWEEP, TRIALS, TrialRecord, read_trial_records
from lrlab.sweeps.sweep import SettingSummary, Summary, Sweep, conclusion, setting_id, summarize, sweep_from_dict

__all__ = ["is_sweep_folder", "sweep_table", "write_sweep_report"]

_NAMES = {"test_acc": "test accuracy", "train_loss": "train loss", "train_acc": "train accuracy"}


def is_sweep_folder(folder: str | Path) -> bool:
    """Whether `folder` holds a sweep (a ``sweep.json`` written by `lrlab.sweeps.run`)."""
    path = Path(folder) / SWEEP
    if not path.is_file():
        return False
    try:
        return "fingerprint" in json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False


def _load(folder: Path) -> tuple[dict[str, Any], Sweep, list[TrialRecord], Summary | None]:
    if not is_sweep_folder(folder):
        raise ResultsError(f"{folder} is not a sweep folder (no {SWEEP}); give the --out folder of lrlab sweep")
    stored = json.loads((folder / SWEEP).read_text())
    sweep = sweep_from_dict(stored["sweep"])
    records = read_trial_records(folder)
    summary = None
    if records:
        results = [{"params": r.params, "seed": r.seed, "metrics": r.metrics, "diverged": r.diverged} for r in records]
        summary = summarize(results, sweep.conclusion_metric)
    return stored, sweep, records, summary


def _num(x: float, digits: int = 4) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def sweep_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """The report's table: a header and one row of text cells per setting."""
    name = _NAMES.get(summary.metric.name, summary.metric.name)
    head = ["setting", "seeds", f"final {name}: mean ± std", "95% interval", "mean train loss", "diverged"]
    body = []
    for r in summary.rows:
        cell = _num(r.mean) if r.n < 2 else f"{_num(r.mean)} ± {_num(r.std)}"
        interval = "n/a" if r.n < 2 else f"[{_num(r.ci_low)}, {_num(r.ci_high)}]"
        body.append([r.label or "(no parameters)", str(r.runs), cell, interval, _num(r.train_loss), str(r.diverged)])
    return head, body


# -- figures ----------------------------------------------------------------------------------------
def _png(fig: Any) -> bytes:
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _log_axis(sweep: Sweep, name: str, values: Sequence[float]) -> bool:
    if name in sweep.random:
        return sweep.random[name].kind == "loguniform"
    xs = np.array(sorted(set(values)), dtype=np.float64)
    if xs.size < 3 or np.any(xs <= 0) or xs[-1] / xs[0] < 10:
        return False
    lin, log = np.diff(xs), np.diff(np.log(xs))
    return bool(np.std(log) / np.mean(log) < np.std(lin) / np.mean(lin))


def _parameter_figure(sweep: Sweep, summary: Summary, name: str) -> bytes:
    """The final metric against parameter `name`; one line per value of the other parameters (if few)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    others = [p for p in sweep.parameters if p != name]
    groups: dict[str, list[SettingSummary]] = {}
    for row in summary.rows:
        key = ", ".join(f"{p}={row.params[p]:g}" for p in others)
        groups.setdefault(key, []).append(row)
    lines = len(groups) <= 8
    for key, rows in groups.items():
        rows = sorted(rows, key=lambda r: float(r.params[name]))
        x = np.array([float(r.params[name]) for r in rows])
        y = np.array([r.mean for r in rows])
        low = np.array([r.mean - r.ci_low if math.isfinite(r.ci_low) else 0.0 for r in rows])
        high = np.array([r.ci_high - r.mean if math.isfinite(r.ci_high) else 0.0 for r in rows])
        ax.errorbar(x, y, yerr=[low, high], fmt="o-" if lines else "o", capsize=3, ms=4, label=key or None)
    if _log_axis(sweep, name, [float(r.params[name]) for r in summary.rows]):
        ax.set_xscale("log")
    metric = _NAMES.get(summary.metric.name, summary.metric.name)
    ax.set_xlabel(name)
    ax.set_ylabel(f"final {metric}")
    ax.set_title(f"final {metric} against {name} (mean over seeds, bars: 95% interval)", fontsize=9)
    ax.grid(alpha=0.3)
    if others and lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _runs(folder: Path, records: list[TrialRecord], row: SettingSummary) -> list[RunResults]:
    sid = setting_id(row.params)
    runs = []
    for r in records:
        if setting_id(r.params) == sid:
            runs.extend(read_results(folder / TRIALS / r.trial_id).runs)
    return runs


def _curves_figure(folder: Path, records: list[TrialRecord], picks: list[tuple[str, SettingSummary]]) -> bytes:
    """Test accuracy and train loss against epoch for the best and worst settings (mean, band = min..max)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (title, row), color in zip(picks, ("tab:green", "tab:red"), strict=False):
        runs = _runs(folder, records, row)
        for ax, key in zip(axes, ("test_acc", "train_loss"), strict=True):
            series = [r.series(key) for r in runs if r.epochs]
            if not series:
                continue
            length = max(len(s) for s in series)
            table = np.full((len(series), length), np.nan)
            for i, s in enumerate(series):
                table[i, : len(s)] = s
            epochs = np.arange(1, length + 1)
            ok = np.isfinite(table).any(axis=0)
            mean = np.full(length, np.nan)
            lo = np.full(length, np.nan)
            hi = np.full(length, np.nan)
            mean[ok] = np.nanmean(table[:, ok], axis=0)
            lo[ok] = np.nanmin(table[:, ok], axis=0)
            hi[ok] = np.nanmax(table[:, ok], axis=0)
            ax.plot(epochs, mean, "o-", ms=3, color=color, label=f"{title}: {row.label or '(no parameters)'}")
            if len(series) > 1:
                ax.fill_between(epochs, lo, hi, color=color, alpha=0.2, linewidth=0)
    for ax, key in zip(axes, ("test_acc", "train_loss"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(_NAMES[key])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("best and worst settings (mean over seeds, band: min..max)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


# -- the report -------------------------------------------------------------------------------------
def write_sweep_report(folder: str | Path) -> list[Path]:
    """Write ``report.md`` (+ PNGs) and a self-contained ``report.html`` into `folder`; returns their paths."""
    folder = Path(folder)
    stored, sweep, records, summary = _load(folder)
    total = len(stored.get("trials", []))
    figures: list[tuple[str, str, bytes]] = []  # (title, file, png)
    sentence = "No trial has finished yet."
    if summary is not None:
        sentence = conclusion(summary)
        for name in sweep.parameters:
            figures.append(
                (f"final metric against {name}", f"report-param-{name}.png", _parameter_figure(sweep, summary, name))
            )
        ranked = summary.ranked()
        if ranked:
            picks = [("best", ranked[0])] + ([("worst", ranked[-1])] if len(ranked) > 1 else [])
            figures.append(("best and worst settings", "report-curves.png", _curves_figure(folder, records, picks)))
    for _, file, png in figures:
        atomic_write_bytes(folder / file, png)
    header = _header(stored, sweep, records, total)
    stopped = [r for r in records if r.status == "stopped"]
    atomic_write_text(folder / "report.md", _markdown(sweep, header, summary, sentence, figures, stopped))
    atomic_write_text(folder / "report.html", _html(sweep, header, summary, sentence, figures, stopped))
    return [folder / "report.md", folder / "report.html"]


def _header(stored: dict[str, Any], sweep: Sweep, records: list[TrialRecord], total: int) -> list[str]:
    state = "complete" if len(records) == total else f"incomplete: {len(records)} of {total} trials finished"
    versions = stored.get("versions", {})
    grid = "; ".join(f"{k} = {', '.join(f'{v:g}' for v in vs)}" for k, vs in sweep.grid.items())
    random = "; ".join(f"{k} ~ {d}" for k, d in sweep.random.items())
    lines = [
        f"template: `{sweep.template}`",
        f"trials: {total} ({state}); fingerprint `{stored.get('fingerprint')}`",
    ]
    if grid:
        lines.append(f"grid: {grid}")
    if random:
        lines.append(f"random search: {random} ({sweep.trials} draws, search seed {sweep.search_seed})")
    lines += [
        f"seeds: {', '.join(str(s) for s in sweep.seeds)}; {sweep.epochs} epochs, schedule applied per {sweep.per}",
        f"data: {stored.get('data', '?')}",
        f"lrlab {versions.get('lrlab', '?')}, torch {versions.get('torch', '?')}",
    ]
    return lines


_NOTE = (
    "Mean ± sample standard deviation over seeds of the final-epoch value; the 95% interval is "
    "mean ± t(0.975, n-1)·std/√n, clipped to the values the metric can take (an accuracy stays in [0, 1]). "
    "A diverged trial counts where its value is finite."
)


def _markdown(
    sweep: Sweep,
    header: list[str],
    summary: Summary | None,
    sentence: str,
    figures: list[tuple[str, str, bytes]],
    stopped: list[TrialRecord],
) -> str:
    title = f"# lrlab sweep: {sweep.name}" if sweep.name else "# lrlab sweep"
    lines = [title, ""]
    if sweep.description:
        lines += [" ".join(sweep.description.split()), ""]
    lines += [f"- {h}" for h in header]
    lines += ["", "## Conclusion", "", sentence, ""]
    if summary is not None:
        head, body = sweep_table(summary)
        lines += ["## Settings", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(body_row) + " |" for body_row in body]
        lines += ["", _NOTE, ""]
    if stopped:
        lines += ["**Stopped early by ASHA** (their numbers are from their last epoch):", ""]
        lines += [f"- {r.trial_id} after {r.epochs_done} epochs" for r in stopped]
        lines += [""]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{t}]({f})\n" for t, f, _ in figures]
    return "\n".join(lines).rstrip() + "\n"


def _html(
    sweep: Sweep,
    header: list[str],
    summary: Summary | None,
    sentence: str,
    figures: list[tuple[str, str, bytes]],
    stopped: list[TrialRecord],
) -> str:
    import re

    def inline(text: str) -> str:
        return re.sub(r"`(.+?)`", r"<code>\1</code>", html.escape(text))

    title = f"lrlab sweep: {sweep.name}" if sweep.name else "lrlab sweep"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
        "figure{display:inline-block;margin:.5em}code{background:#f4f4f4}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if sweep.description:
        parts.append(f"<p>{html.escape(' '.join(sweep.description.split()))}</p>")
    parts.append("<ul>" + "".join(f"<li>{inline(h)}</li>" for h in header) + "</ul>")
    parts.append(f"<h2>Conclusion</h2><p>{html.escape(sentence)}</p>")
    if summary is not None:
        head, body = sweep_table(summary)
        parts.append("<h2>Settings</h2><table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head))
        parts.append("</tr></thead><tbody>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body]
        parts.append(f"</tbody></table><p>{html.escape(_NOTE)}</p>")
    if stopped:
        parts.append("<p><strong>Stopped early by ASHA</strong> (numbers from their last epoch):</p><ul>")
        parts += [f"<li>{html.escape(r.trial_id)} after {r.epochs_done} epochs</li>" for r in stopped]
        parts.append("</ul>")
    if figures:
        parts.append("<h2>Figures</h2>")
        for t, _, png in figures:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{data}"></figure>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
