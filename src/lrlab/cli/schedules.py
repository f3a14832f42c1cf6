"""``lrlab plot`` and ``lrlab show``: look at schedules before training with them."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import numpy as np

from lrlab.cli._types import positive_int
from lrlab.errors import ScheduleError
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse


def add_commands(sub: Any) -> None:
    plot = sub.add_parser(
        "plot",
        help="draw schedules on one figure (PNG)",
        description="Draw one or more schedule specs on one figure and write a PNG.",
    )
    plot.add_argument("specs", nargs="*", metavar="SPEC", help='e.g. "cosine(0.3, steps=20, final_lr=0.01)"')
    plot.add_argument("--preset", help="draw a preset's schedules (e.g. chapter-schedules)")
    plot.add_argument("--steps", type=positive_int, help="number of steps to draw (default 100, or the preset's)")
    plot.add_argument("--out", default="schedules.png", help="PNG file to write (default: schedules.png)")
    plot.add_argument("--log-y", action="store_true", help="logarithmic learning-rate axis")
    plot.add_argument("--grid", action="store_true", help="one panel per schedule")
    plot.add_argument("--title", help="figure title")
    plot.set_defaults(run=run_plot)

    show = sub.add_parser(
        "show",
        help="print a schedule's values",
        description="Print the learning rate at t = 0..steps-1 for one or more specs.",
    )
    show.add_argument("specs", nargs="+", metavar="SPEC")
    show.add_argument("--steps", type=positive_int, default=20, help="number of steps (default 20)")
    show.add_argument("--csv", action="store_true", help="comma-separated output for machines")
    show.set_defaults(run=run_show)



def run_plot(args: argparse.Namespace) -> int:
    from lrlab.lab.presets import load_preset
    from lrlab.reports.plots import plot_schedules

    schedules: list[Schedule] = []
    labels: list[str] = []
    steps = args.steps
    title = args.title
    if args.preset:
        preset = load_preset(args.preset)
        for run in preset.runs:
            schedules.append(run.schedule)
            labels.append(f"{run.label}: {run.schedule}")
        steps = steps or int(preset.options.get("steps", 100))
        title = title or preset.description
    for text in args.specs:
        schedule = parse(text)
        schedules.append(schedule)
        labels.append(str(schedule))
    if not schedules:
        raise ScheduleError("plot needs at least one SPEC or --preset")
    path = plot_schedules(
        schedules, steps or 100, args.out, labels=labels, log_y=args.log_y, grid=args.grid, title=title
    )
    print(f"wrote {path}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    schedules = [parse(text) for text in args.specs]
    t = np.arange(args.steps, dtype=np.float64)
    columns = [s(t) for s in schedules]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["t", *(str(s) for s in schedules)])
        for i in range(args.steps):
            writer.writerow([i, *(repr(float(c[i])) for c in columns)])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="learning rate by step")
    table.add_column("t", justify="right")
    for s in schedules:
        table.add_column(str(s), justify="right")
    for i in range(args.steps):
        table.add_row(str(i), *(f"{float(c[i]):.6g}" for c in columns))
    Console().print(table)
    return 0
