"""``lrlab plot`` and ``lrlab show``: look at schedules before training with them."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import numpy as np

from lrlab.cli._types import PLOT_STEPS_MAX, SHOW_STEPS_MAX, int_at_least, png_path, positive_int
from lrlab.errors import ScheduleError
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse
from lrlab.schedules.units import PERS, bind, has_units, needs


def add_commands(sub: Any) -> None:
    plot = sub.add_parser(
        "plot",
        help="draw schedules on one figure (PNG)",
        description="Draw one or more schedule specs on one figure and write a PNG.",
    )
    plot.add_argument("specs", nargs="*", metavar="SPEC", help='e.g. "cosine(0.3, steps=20, final_lr=0.01)"')
    plot.add_argument("--preset", help="draw a preset's schedules (e.g. chapter-schedules)")
    plot.add_argument(
        "--steps", type=int_at_least(1, PLOT_STEPS_MAX), help="number of steps to draw (default 100, or the preset's)"
    )
    plot.add_argument("--out", default="schedules.png", help="PNG file to write (default: schedules.png)")
    plot.add_argument("--log-y", action="store_true", help="logarithmic learning-rate axis")
    plot.add_argument("--grid", action="store_true", help="one panel per schedule")
    plot.add_argument("--title", help="figure title")
    add_binding_options(plot)
    plot.set_defaults(run=run_plot)

    show = sub.add_parser(
        "show",
        help="print a schedule's values",
        description="Print the learning rate at t = 0..steps-1 for one or more specs.",
    )
    show.add_argument("specs", nargs="+", metavar="SPEC")
    show.add_argument("--steps", type=int_at_least(1, SHOW_STEPS_MAX), default=20, help="number of steps (default 20)")
    show.add_argument("--csv", action="store_true", help="comma-separated output for machines")
    add_binding_options(show)
    show.set_defaults(run=run_show)


def add_binding_options(p: argparse.ArgumentParser) -> None:
    """The job's clock, to bind specs with times in units (``steps="90ep"``, ``"500ba"``, ``"0.2dur"``)."""
    group = p.add_argument_group("times with units", 'bind specs such as cosine(0.1, steps="90ep") to a clock')
    group.add_argument("--per", choices=PERS, help="t counts updates (step, the default) or epochs")
    group.add_argument("--steps-per-epoch", type=positive_int, metavar="N", help="updates per epoch")
    group.add_argument("--epochs", type=positive_int, metavar="E", help="epochs of the run (for dur)")


def bound(schedule: Schedule, args: argparse.Namespace) -> Schedule:
    """`schedule` on the clock the options give, when it has times with units; else as it is."""
    if not has_units(schedule):
        return schedule
    per = args.per or "step"
    missing = {key: where for key, where in needs(schedule, per).items() if getattr(args, key) is None}
    if missing:
        flags = " and ".join(f"--{key.replace('_', '-')} (for {where})" for key, where in missing.items())
        raise ScheduleError(f"{schedule} has times with units; to bind them per {per}, give {flags}")
    return bind(schedule, per=per, steps_per_epoch=args.steps_per_epoch, epochs=args.epochs)


def run_length(args: argparse.Namespace) -> int | None:
    """The run's length on the clock of the options (``--epochs``, times ``--steps-per-epoch`` per step)."""
    if args.epochs is None:
        return None
    if (args.per or "step") == "epoch":
        return int(args.epochs)
    return None if args.steps_per_epoch is None else int(args.epochs * args.steps_per_epoch)


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
    if any(has_units(s) for s in schedules):
        schedules = [bound(s, args) for s in schedules]
        steps = steps or run_length(args)
    if (steps or 100) > PLOT_STEPS_MAX:
        raise ScheduleError(f"plot draws at most {PLOT_STEPS_MAX} steps (the limit); got steps={steps}")
    path = plot_schedules(
        schedules, steps or 100, png_path(args.out), labels=labels, log_y=args.log_y, grid=args.grid, title=title
    )
    print(f"wrote {path}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    written = [parse(text) for text in args.specs]
    schedules = [bound(s, args) for s in written]
    t = np.arange(args.steps, dtype=np.float64)
    columns = [s(t) for s in schedules]
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["t", *(str(s) for s in written)])
        for i in range(args.steps):
            writer.writerow([i, *(repr(float(c[i])) for c in columns)])
        return 0
    from rich.console import Console
    from rich.table import Table

    unit = "step"  # the clock of plain specs; a bound one is named
    if any(has_units(s) for s in written):
        unit = "epoch" if args.per == "epoch" else "update"
    table = Table(title=f"learning rate by {unit}")
    table.add_column("t", justify="right")
    for w, s in zip(written, schedules, strict=True):
        table.add_column(str(w) if w is s else f"{w}\n= {s}", justify="right")
    for i in range(args.steps):
        table.add_row(str(i), *(f"{float(c[i]):.6g}" for c in columns))
    Console().print(table)
    return 0
