"""Figures of schedules. matplotlib is imported here only, on first use."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrlab.schedules.base import Schedule

__all__ = ["plot_schedules", "pyplot"]


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    """Draw schedules over ``t = 0..steps-1`` and write a PNG.

    One axis with a legend by default; ``grid=True`` gives each schedule its
    own panel (for schedules of very different heights).
    """
    plt = pyplot()
    names = list(labels) if labels is not None else [str(s) for s in schedules]
    t = np.arange(steps, dtype=np.float64)
    if grid:
        cols = min(3, len(schedules))
        rows = math.ceil(len(schedules) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        flat = list(axes.flat)
        for ax, sched, name in zip(flat, schedules, names, strict=False):
            ax.plot(t, sched(t), drawstyle="steps-post", color="tab:blue")
            ax.set_title(textwrap.fill(name, 48), fontsize=8)
            ax.set_xlabel(x_label)
            ax.set_ylabel("learning rate")
            if log_y:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
        for ax in flat[len(schedules) :]:
            ax.set_visible(False)
    else:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for sched, name in zip(schedules, names, strict=True):
            ax.plot(t, sched(t), drawstyle="steps-post", label=name)
        ax.set_xlabel(x_label)
        ax.set_ylabel("learning rate")
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
