"""The report of a training job, drawn from its result files only (NumPy and matplotlib; no torch).

`write_report(folder)` reads ``metrics.jsonl`` (and ``job.json``) and writes
beside them ``report.md`` with PNG files, and ``report.html``, one file with
the same figures embedded (base64). It shows the learning rates as actually
used, the chapter's figure for each schedule, the final numbers (mean ± std
over seeds) beside the book's printed PyTorch numbers, the runs that diverged,
and what lrlab runs differently from the book's code.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.lab.store import JobResults, RunResults, atomic_write_bytes, atomic_write_text, read_results
from lrlab.reports.plots import pyplot
from lrlab.schedules.base import FloatArray

__all__ = ["Row", "chapter_reference", "summary_rows", "write_report"]

METRICS = ("train_loss", "train_acc", "test_acc")
NAMES = {"train_loss": "train loss", "train_acc": "train acc", "test_acc": "test acc"}

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
  (average pooling, a sigmoid 84-unit layer): `--model tf` trains it.
- Train loss and train accuracy are running averages over the epoch's minibatches while the weights
  change, and test accuracy is measured on the 10,000 test images after the epoch, as the book prints them.
"""


def chapter_reference() -> dict[str, Any]:
    """The book's printed numbers and bands (``lrlab/lab/experiments/chapter_results.json``)."""
    text = resources.files("lrlab.lab.experiments").joinpath("chapter_results.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(frozen=True)
class Row:
    """One line of the summary table: a label's runs over seeds."""

    label: str
    schedule: str
    per: str
    epochs: int
    seeds: int
    diverged: list[tuple[int, int]]  # (seed, epoch)
    mean: dict[str, float]
    std: dict[str, float]
    reference: dict[str, Any] | None

    def cell(self, metric: str) -> str:
        m = self.mean.get(metric, math.nan)
        if math.isnan(m):
            return "-"
        n = self.seeds - len(self.diverged)
        return f"{m:.3f}" if n < 2 else f"{m:.3f} ± {self.std[metric]:.3f}"


def summary_rows(results: JobResults) -> list[Row]:
    """Final-epoch numbers per label: mean ± std (sample std) over the seeds that did not diverge."""
    reference = {e["schedule"]: e for e in chapter_reference()["experiments"]}
    rows = []
    for label, runs in results.by_label().items():
        first = runs[0].config
        diverged = [(r.seed, r.diverged_epoch) for r in runs if r.diverged_epoch is not None]
        finals = [r.final for r in runs if r.diverged_epoch is None and r.final is not None]
        mean, std = {}, {}
        for metric in METRICS:
            values = np.array([f[metric] for f in finals if f.get(metric) is not None], dtype=np.float64)
            mean[metric] = float(values.mean()) if values.size else math.nan
            std[metric] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        ref = reference.get(first["schedule"]) if first.get("per") == "epoch" else None
        rows.append(
            Row(
                label=label,
                schedule=str(first["schedule"]),
                per=str(first.get("per", "epoch")),
                epochs=max((len(r.epochs) for r in runs), default=0),
                seeds=len(runs),
                diverged=[(s, e) for s, e in diverged if e is not None],
                mean=mean,
                std=std,
                reference=ref,
            )
        )
    return rows


# -- figures ------------------------------------------------------------------------------------------
def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _save(fig: Any, path: Path) -> bytes:
    import io

    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return data


def _lr_figure(results: JobResults, path: Path) -> bytes:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    step_mode = False
    for label, runs in results.by_label().items():
        run = runs[0]
        if not run.epochs:
            continue
        epochs = np.arange(len(run.epochs) + 1)
        first = run.series("lr_first")
        (line,) = ax.plot(epochs, [*first, first[-1]], drawstyle="steps-post", label=label)
        if run.config.get("per") == "step":
            step_mode = True
            ax.plot(epochs[1:], run.series("lr_last"), "o", ms=3, color=line.get_color())
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_ylabel("learning rate")
    title = "learning rate of each epoch, as used"
    ax.set_title(title + (" (dots: the epoch's last update)" if step_mode else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def _over_seeds(runs: list[RunResults], metric: str) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None:
    """Epochs 1..E and the mean, min and max of `metric` over the runs' finite values (None: no epochs)."""
    series = [r.series(metric) for r in runs if r.epochs]
    if not series:
        return None
    length = max(len(s) for s in series)
    table = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        table[i, : len(s)] = s
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(table), table, np.nan)
        ok = np.isfinite(finite).any(axis=0)
        mean, low, high = (np.full(length, np.nan) for _ in range(3))
        mean[ok] = np.nanmean(finite[:, ok], axis=0)
        low[ok] = np.nanmin(finite[:, ok], axis=0)
        high[ok] = np.nanmax(finite[:, ok], axis=0)
    return np.arange(1, length + 1, dtype=np.float64), mean, low, high


def _compare_figure(results: JobResults, path: Path) -> bytes:
    """Every schedule on the same axes, one panel per metric: the comparison at a glance."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(METRICS), figsize=(13.5, 3.9))
    for ax, metric in zip(axes, METRICS, strict=True):
        for label, runs in results.by_label().items():
            curve = _over_seeds(runs, metric)
            if curve is None:
                continue
            epochs, mean, low, high = curve
            (line,) = ax.plot(epochs, mean, label=label)
            if len(runs) > 1:
                ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_title(NAMES[metric], fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(_integer_locator())
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")  # losses differ by factors; accuracies by points
    axes[-1].legend(fontsize=8)
    seeds = max(len(runs) for runs in results.by_label().values())
    note = f"mean of {seeds} seeds, band = min-max" if seeds > 1 else "one seed"
    fig.suptitle(f"all schedules side by side ({note})", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _run_figure(label: str, runs: list[RunResults], path: Path) -> bytes:
    """The chapter's figure: train loss, train acc and test acc against epoch (mean over seeds, band = min..max)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for metric, style in zip(METRICS, ("-", "--", "-."), strict=True):
        curve = _over_seeds(runs, metric)
        if curve is None:
            continue
        epochs, mean, low, high = curve
        (line,) = ax.plot(epochs, mean, style, label=NAMES[metric])
        if len(runs) > 1:
            ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    diverged = [r for r in runs if r.diverged_epoch is not None]
    for r in diverged:
        ax.axvline(r.diverged_epoch or 0, color="red", lw=0.8, ls=":")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(_integer_locator())
    ax.set_ylim(0, max(1.0, min(2.5, ax.get_ylim()[1])))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    seeds = f"{len(runs)} seeds, mean and min-max" if len(runs) > 1 else f"seed {runs[0].seed}"
    extra = f"; {len(diverged)} diverged (red)" if diverged else ""
    ax.set_title(f"{label}\n{seeds}{extra}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"


# -- the report ---------------------------------------------------------------------------------------
def write_report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` (+ PNGs) and a self-contained ``report.html`` into `folder`; returns both paths."""
    folder = Path(folder)
    results = read_results(folder)
    rows = summary_rows(results)
    figures: list[tuple[str, str, bytes]] = []  # (title, file name, png)
    figures.append(("Learning rates", "report-lr.png", _lr_figure(results, folder / "report-lr.png")))
    figures.append(("Side by side", "report-compare.png", _compare_figure(results, folder / "report-compare.png")))
    used: set[str] = set()
    for label, runs in results.by_label().items():
        name = _slug(label)
        while name in used:
            name += "-x"
        used.add(name)
        file = f"report-run-{name}.png"
        figures.append((label, file, _run_figure(label, runs, folder / file)))
    md = _markdown(results, rows, figures)
    atomic_write_text(folder / "report.md", md)
    atomic_write_text(folder / "report.html", _html(results, rows, figures))
    return folder / "report.md", folder / "report.html"


def _header(results: JobResults) -> list[str]:
    job = results.job
    first = results.runs[0].config
    done = min(len(r.epochs) for r in results.runs)
    total = int(first.get("epochs", done))
    state = "complete" if results.complete else f"incomplete: {done} of {total} epochs done (resume with --resume)"
    model = first.get("model") or {}
    return [
        f"job `{first.get('job_id', job.get('job_id', '?'))}` ({state})",
        f"data: {first.get('data', '?')}",
        f"LeNet ({model.get('variant', '?')}, init {model.get('init', '?')}), SGD, batch {first.get('batch_size')}, "
        f"{total} epochs, schedule applied per {first.get('per')}",
        f"lrlab {first.get('lrlab')}, torch {first.get('torch')}, device {first.get('device')}",
    ]


def _table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    head = [
        "schedule",
        "seeds",
        "train loss",
        "train acc",
        "test acc",
        "book PyTorch (1.0.3): loss / train / test",
        "book re-runs: test acc median [min, max]",
        "diverged",
    ]
    body = []
    for row in rows:
        ref = row.reference
        if ref is not None:
            p = ref["pytorch"]
            book = f"{p['train_loss']:.3f} / {p['train_acc']:.3f} / {p['test_acc']:.3f}"
            b = ref["pytorch_band"]
            band = f"{b['test_acc_median']:.3f} [{b['test_acc_min']:.3f}, {b['test_acc_max']:.3f}]"
            if row.epochs != 30:
                book += f" (after 30 epochs; this run: {row.epochs})"
        else:
            book = band = "-"
        diverged = ", ".join(f"seed {s} in epoch {e}" for s, e in row.diverged) or "none"
        body.append(
            [
                f"`{row.schedule}`" if row.label == row.schedule else f"{row.label}: `{row.schedule}`",
                str(row.seeds),
                row.cell("train_loss"),
                row.cell("train_acc"),
                row.cell("test_acc"),
                book,
                band,
                diverged,
            ]
        )
    return head, body


def _ran_notes(rows: list[Row]) -> list[str]:
    return [f"{row.label}: {row.reference['pytorch_ran']}" for row in rows if row.reference is not None]


def _markdown(results: JobResults, rows: list[Row], figures: list[tuple[str, str, bytes]]) -> str:
    lines = ["# lrlab report", ""]
    lines += [f"- {h}" for h in _header(results)]
    head, body = _table(rows)
    lines += ["", "## Final epoch", ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body]
    lines += [
        "",
        "Mean ± sample standard deviation over the seeds that did not diverge. The book's numbers are one "
        "printed run each (d2l.ai 1.0.3, PyTorch tab) and the range its unchanged code gave over 35 builds; "
        "source: " + chapter_reference()["sources"]["pytorch"] + ".",
    ]
    diverged = [(row.label, s, e) for row in rows for s, e in row.diverged]
    if diverged:
        lines += ["", "**Diverged** (loss became NaN or infinite; the run was stopped, the others went on):", ""]
        lines += [f"- {label}, seed {s}: epoch {e}" for label, s, e in diverged]
    lines += ["", "## Learning rates", "", f"![learning rates]({figures[0][1]})", ""]
    lines += ["## Side by side", "", f"![all schedules side by side]({figures[1][1]})", ""]
    lines += ["## Each schedule", ""]
    for title, file, _ in figures[2:]:
        lines += [f"![{title}]({file})", ""]
    lines += ["## What lrlab runs differently from the book's code", "", DIFFERENCES]
    notes = _ran_notes(rows)
    if notes:
        lines += ["What the book's PyTorch tab actually ran:", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _inline_md(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", escaped)


def _html(results: JobResults, rows: list[Row], figures: list[tuple[str, str, bytes]]) -> str:
    def img(title: str, png: bytes) -> str:
        data = base64.b64encode(png).decode("ascii")
        return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}"></figure>'

    head, body = _table(rows)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>lrlab report</title>',
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
        "figure{display:inline-block;margin:.5em}code{background:#f4f4f4}</style></head><body>",
        "<h1>lrlab report</h1><ul>",
        *[f"<li>{_inline_md(h)}</li>" for h in _header(results)],
        "</ul><h2>Final epoch</h2><table><thead><tr>",
        *[f"<th>{html.escape(h)}</th>" for h in head],
        "</tr></thead><tbody>",
    ]
    for r in body:
        parts.append("<tr>" + "".join(f"<td>{_inline_md(c)}</td>" for c in r) + "</tr>")
    parts.append("</tbody></table>")
    parts.append(
        "<p>Mean ± sample standard deviation over the seeds that did not diverge; the book's numbers are one printed "
        "run each (d2l.ai 1.0.3, PyTorch tab) and the range of its unchanged code over 35 builds.</p>"
    )
    diverged = [(row.label, s, e) for row in rows for s, e in row.diverged]
    if diverged:
        parts.append("<p><strong>Diverged</strong> (loss became NaN or infinite; stopped, the others went on):</p><ul>")
        parts += [f"<li>{html.escape(label)}, seed {s}: epoch {e}</li>" for label, s, e in diverged]
        parts.append("</ul>")
    parts.append("<h2>Learning rates</h2>" + img(figures[0][0], figures[0][2]))
    parts.append("<h2>Side by side</h2>" + img(figures[1][0], figures[1][2]))
    parts.append("<h2>Each schedule</h2>" + "".join(img(t, png) for t, _, png in figures[2:]))
    parts.append("<h2>What lrlab runs differently from the book's code</h2>")
    paragraph, items = DIFFERENCES.split("\n\n", 1)
    parts.append(f"<p>{_inline_md(' '.join(paragraph.split()))}</p><ul>")
    for item in re.split(r"\n- ", "\n" + items.strip())[1:]:
        parts.append(f"<li>{_inline_md(' '.join(item.split()))}</li>")
    parts.append("</ul>")
    notes = _ran_notes(rows)
    if notes:
        parts.append("<p>What the book's PyTorch tab actually ran:</p><ul>")
        parts += [f"<li>{_inline_md(n)}</li>" for n in notes]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
