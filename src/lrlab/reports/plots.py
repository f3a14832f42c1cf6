"""Figures, as matplotlib ``Figure`` objects built without pyplot, and the drawing habits every report shares.

Nothing here switches global state: no ``matplotlib.use``, no rcParams, no
pyplot (whose figure manager is what a notebook's inline backend owns). A
figure is a plain `matplotlib.figure.Figure`; `png_bytes` and `save_figure`
render it with ``Figure.savefig``, which needs no backend, and Jupyter shows a
returned ``Figure`` inline as it is.

The public calls (the Python front end and ``lrlab schedules plot`` use them):

* `schedules_figure` / `plot_schedules`: schedules over ``t = 0..steps-1``;
* `find_lr_figure`: a range test's loss against rate, its suggestion marked
  in the words of `lrlab.lab.findlr.FindLRResult.rule_text`;
* `png_bytes`, `save_figure`: a figure as PNG bytes, or written to a file.

The helpers below them keep the reports' figures alike: one x convention for
rates and metrics (`rate_steps`: the rate of epoch ``k`` (from 1) drawn over
``(k-1, k]``, its metrics at ``x = k``, the epochs done), a rate axis from 0,
log axes that never read ``2.285 x 10^0`` (`readable_log`), a mean line with a
light band over seeds (`band`), and legends below the axes (`legend_below`).
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from lrlab.lab.store import atomic_write_bytes
from lrlab.schedules.base import FloatArray, Schedule

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

    from lrlab.lab.findlr import FindLRResult

__all__ = ["find_lr_figure", "plot_schedules", "png_bytes", "save_figure", "schedules_figure"]

#: dots per inch of every PNG
DPI = 100
#: the band over seeds: light enough that many of them stay readable
BAND_ALPHA = 0.12
#: more lines than this on one axes: thinner lines
MANY = 6
#: the x label of every figure against epochs: metrics of epoch k (from 1) are drawn at x = k
EPOCHS_DONE = "epochs done"
#: the x label of rates against epochs: the rate of epoch k covers (k-1, k], ending where its metrics are drawn
RATES_DONE = "epochs done (the rate of epoch k is drawn over (k-1, k])"


# -- rendering -----------------------------------------------------------------------------------------
class LabFigure(Figure):
    """A matplotlib `Figure` that Jupyter shows inline by itself.

    A `Figure` made without pyplot has no display hook until the notebook's
    inline backend is set up (which importing pyplot or ``%matplotlib inline``
    does); ``_repr_png_`` gives it one, so ``result.plot()["compare"]`` shows the
    figure in any notebook without lrlab touching matplotlib's global backend.
    """

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def new_figure(width: float, height: float, *, legend: Sequence[str] = (), ncols: int | None = None) -> Figure:
    """A `LabFigure` with constrained layout; taller by the rows a legend of `legend` labels will need below."""
    rows = legend_rows(legend, width, ncols) if legend else 0
    return LabFigure(figsize=(width, height + 0.2 * rows), layout="constrained")


def png_bytes(fig: Figure) -> bytes:
    """`fig` rendered as PNG (``Figure.savefig``: no backend, no pyplot)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as a PNG to `path` atomically (parent folders created); returns the path."""
    out = Path(path)
    atomic_write_bytes(out, png_bytes(fig))
    return out


# -- shared drawing habits ------------------------------------------------------------------------------
def metric_title(key: str) -> str:
    """How a record key reads on an axis: ``test_acc`` -> ``test accuracy``, ``train_loss`` -> ``train loss``."""
    words = key.split("_")
    return " ".join("accuracy" if w == "acc" else w for w in words)


def line_width(lines: int) -> float:
    """Thinner lines when many share an axes."""
    return 1.0 if lines > MANY else 1.8


def legend_columns(labels: Sequence[str], width: float) -> int:
    """How many legend entries fit side by side below an axes `width` inches wide."""
    longest = max((len(label) for label in labels), default=1)
    return max(1, min(len(labels), int(width * 13 // (longest + 6))))


def legend_rows(labels: Sequence[str], width: float, ncols: int | None = None) -> int:
    """How many rows a legend of `labels` below an axes `width` inches wide takes."""
    return math.ceil(len(labels) / (ncols or legend_columns(labels, width)))


def legend_below(fig: Figure, *, ncols: int | None = None) -> None:
    """One legend for the whole figure, below the axes (never over a line); nothing when no line has a label."""
    handles: list[Any] = []
    labels: list[str] = []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if labels:
        width = float(fig.get_figwidth())
        cols = ncols or legend_columns(labels, width)
        fig.legend(handles, labels, loc="outside lower center", ncols=cols, fontsize=8, frameon=False)


def integer_ticks(axis: Axis) -> None:
    """Ticks at whole numbers only (epochs, integer parameters)."""
    axis.set_major_locator(MaxNLocator(integer=True))


def _plain(value: float, _pos: Any = None) -> str:
    return f"{value:.4g}"


def readable_log(axis: Axis, low: float, high: float) -> None:
    """Plain number labels on a log `axis` showing ``low..high``, where matplotlib would print ``2.285x10^0``.

    Less than three decades get plain labels on major and minor ticks (the
    minor ones at 2 and 5 of each decade over one to three decades); wider
    axes keep the powers of ten and unlabelled minor ticks.
    """
    if not low > 0:
        return
    decades = math.log10(high / low) if high > low else 0.0
    if decades >= 3:
        axis.set_minor_formatter(NullFormatter())
        return
    axis.set_major_formatter(FuncFormatter(_plain))
    if decades >= 1:
        axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.set_minor_formatter(FuncFormatter(_plain))


def finite_range(values: Sequence[float] | FloatArray) -> tuple[float, float] | None:
    """The smallest and largest finite value, or None when there is none."""
    array = np.asarray(values, dtype=np.float64)
    good = array[np.isfinite(array)]
    return (float(good.min()), float(good.max())) if good.size else None


def scale_y(ax: Axes, drawn: Sequence[FloatArray | None], *, log: bool = False, zero: bool = False) -> None:
    """A log y axis when asked and the positive `values` span at least a decade, else linear; from 0 if `zero`.

    `drawn` holds the values of each curve (None: a curve not drawn). A
    narrower log axis would only relabel a few ticks (and read ``2.285 x 10^0``).
    """
    span = finite_range(np.concatenate([np.zeros(0), *(d for d in drawn if d is not None)]))
    if span is None:
        return
    low, high = span
    if log and low > 0 and high / low >= 10:
        ax.set_yscale("log")
        readable_log(ax.yaxis, low, high)
    elif zero and low >= 0:
        ax.set_ylim(bottom=0)


def rate_steps(values: Sequence[float] | FloatArray, per_epoch: int = 1) -> tuple[FloatArray, FloatArray]:
    """x and y of a step line drawing ``values[i]`` (update or epoch ``i``, from 0) over ``(i, i+1] / per_epoch``.

    With ``drawstyle="steps-pre"`` the rate of epoch ``k`` (from 1) covers
    ``(k-1, k]``, ending at ``x = k`` where that epoch's metrics are drawn.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.size == 0:
        return np.zeros(0), np.zeros(0)
    x = np.arange(y.size + 1, dtype=np.float64) / per_epoch
    return x, np.concatenate([y[:1], y])


def over_seeds(series: Sequence[Sequence[float]]) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None:
    """Epochs done (1..E) and the mean, min and max over seeds of per-epoch values (None: no values)."""
    series = [s for s in series if len(s)]
    if not series:
        return None
    length = max(len(s) for s in series)
    table = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        table[i, : len(s)] = s
    table[~np.isfinite(table)] = np.nan
    mean, low, high = (np.full(length, np.nan) for _ in range(3))
    ok = np.isfinite(table).any(axis=0)
    mean[ok] = np.nanmean(table[:, ok], axis=0)
    low[ok] = np.nanmin(table[:, ok], axis=0)
    high[ok] = np.nanmax(table[:, ok], axis=0)
    return np.arange(1, length + 1, dtype=np.float64), mean, low, high


def band(
    ax: Axes,
    series: Sequence[Sequence[float]],
    *,
    label: str,
    lines: int = 1,
    color: Any = None,
    style: str = "-",
) -> FloatArray | None:
    """The mean of `series` (one per seed) against epochs done, with a light min..max band; returns its values."""
    curve = over_seeds(series)
    if curve is None:
        return None
    epochs, mean, low, high = curve
    marker = "o" if len(epochs) <= 12 else ""
    (line,) = ax.plot(epochs, mean, style, marker=marker, ms=3, color=color, lw=line_width(lines), label=label)
    if len([s for s in series if len(s)]) > 1:
        ax.fill_between(epochs, low, high, color=line.get_color(), alpha=BAND_ALPHA, linewidth=0)
    return np.concatenate([low, high])


def epoch_axes(ax: Axes, title: str = "", *, label: str = EPOCHS_DONE) -> None:
    """The x axis of every figure against epochs: epochs done, whole numbers, from 0; a light grid."""
    ax.set_xlabel(label, fontsize=8)
    integer_ticks(ax.xaxis)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)


# -- schedules ------------------------------------------------------------------------------------------
def schedules_figure(
    schedules: Sequence[Schedule],
    steps: int,
    *,
    labels: Sequence[str] | None = None,
    log_y: bool = False,
    grid: bool = False,
    title: str | None = None,
    x_label: str = "step",
) -> Figure:
    """Schedules over ``t = 0..steps-1`` (the value at ``t`` held over ``[t, t+1)``).

    One axes with a legend below it by default; ``grid=True`` gives each
    schedule its own panel (for schedules of very different heights). A
    linear y axis starts at 0; ``log_y`` gives plain labels when the rates
    span less than three decades.
    """
    names = list(labels) if labels is not None else [str(s) for s in schedules]
    if len(names) != len(schedules):
        raise ValueError(f"labels must name each schedule; got {len(names)} labels for {len(schedules)} schedules")
    t = np.arange(steps, dtype=np.float64)
    values = [np.asarray(s(t), dtype=np.float64) for s in schedules]
    if grid:
        cols = max(1, min(3, len(schedules)))
        rows = max(1, math.ceil(len(schedules) / cols))
        fig = new_figure(4.2 * cols, 3.2 * rows)
        axes = fig.subplots(rows, cols, squeeze=False).flat
        for ax, y, name in zip(axes, values, names, strict=False):
            _schedule_axes(ax, [(t, y, None)], x_label, log_y)
            ax.set_title(textwrap.fill(name, 48), fontsize=8)
        for ax in list(axes)[len(schedules) :]:
            ax.set_visible(False)
    else:
        fig = new_figure(8, 4.5, legend=names)
        ax = fig.subplots()
        _schedule_axes(ax, [(t, y, name) for y, name in zip(values, names, strict=True)], x_label, log_y)
        legend_below(fig)
    if title:
        fig.suptitle(title)
    return fig


def _schedule_axes(ax: Axes, curves: list[tuple[FloatArray, FloatArray, str | None]], x_label: str, log: bool) -> None:
    for t, y, name in curves:
        ax.plot(t, y, drawstyle="steps-post", lw=line_width(len(curves)), label=name)
    ax.set_xlabel(x_label)
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    every = np.concatenate([y for _, y, _ in curves]) if curves else np.zeros(0)
    span = finite_range(every[every > 0]) if log else finite_range(every)
    if log:
        ax.set_yscale("log")
        if span is not None:
            readable_log(ax.yaxis, *span)
    elif span is not None and span[0] >= 0:
        ax.set_ylim(bottom=0)


def plot_schedules(
    schedules: Sequence[Schedule],
    steps: int,
    out: str | Path,
    *,
    labels: Sequence[str] | None = None,
    log_y: bool = False,
    grid: bool = False,
    title: str | None = None,
    x_label: str = "step",
) -> Path:
    """`schedules_figure` written as a PNG to `out`; returns the path."""
    fig = schedules_figure(schedules, steps, labels=labels, log_y=log_y, grid=grid, title=title, x_label=x_label)
    return save_figure(fig, out)


# -- the range test -------------------------------------------------------------------------------------
def find_lr_figure(result: FindLRResult, *, title: str | None = None) -> Figure:
    """Loss against rate of a range test, the suggestion marked with ``"suggested: " + result.rule_text``.

    The x axis is logarithmic for ``step_mode="exp"`` and linear for
    ``"linear"``; the y label says whether the loss is the training batches'
    or the held-out batches' (``result.validation``).
    """
    # a FindLRResult comes from lrlab.lab.findlr, so this import loads nothing new
    from lrlab.lab.findlr import RULES

    fig = new_figure(7, 5)
    ax = fig.subplots()
    smoothed = [v for v in result.smoothed if math.isfinite(v)]
    span = finite_range([*result.smoothed, *result.losses])
    if result.lrs:
        ax.plot(result.lrs, result.losses, color="tab:blue", alpha=0.3, linewidth=1, label="loss")
        ax.plot(result.lrs, result.smoothed, color="tab:blue", label="smoothed loss")
    else:
        ax.text(0.5, 0.5, "no finite loss recorded", ha="center", va="center", transform=ax.transAxes)
    if smoothed and span is not None and max(smoothed) * 1.1 > span[0]:
        top, bottom = max(smoothed) * 1.1, span[0]
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
    suggested = result.suggested_lr
    if suggested is not None:
        ax.axvline(suggested, color="tab:green", lw=2, label=f"suggested: {result.rule_text}")
    else:
        ax.set_title(result.rule_text, fontsize=8)
    others = [(result.steepest_lr, RULES["steepest"]), (result.decade_lr, RULES["decade"])]
    for lr, words in others:
        if lr is not None and lr != suggested:
            ax.axvline(lr, color="tab:orange", ls="--", lw=1, label=f"{words}: {lr:.3g}")
    if result.stop_lr is not None:
        ax.axvline(
            result.stop_lr, color="tab:red", ls=":", label=f"stopped: {result.stop_lr:.3g} ({result.stop_reason})"
        )
    if result.step_mode == "exp":
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        readable_log(ax.xaxis, result.start, result.end)
    else:
        ax.set_xlabel("learning rate")
    ax.set_xlim(result.start, result.end)
    ax.set_ylabel("validation loss" if result.validation else "training loss")
    fig.suptitle(title or "Learning-rate range test (Smith 2017)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    legend_below(fig, ncols=2)
    return fig
