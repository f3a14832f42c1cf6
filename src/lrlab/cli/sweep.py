"""``lrlab sweep``: run a sweep (a template, a grid or random search, seeds) into a folder and report it.

Rerunning the same command with the same ``--out`` resumes the sweep: finished
trials are kept, the one cut short continues from its checkpoint.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from lrlab.cli._types import (
    add_experiment_options,
    add_overwrite_option,
    add_workers_option,
    int_at_least,
    non_negative_int,
    positive_int,
)
from lrlab.errors import SweepError
from lrlab.sweeps.backends import BACKENDS
from lrlab.sweeps.grid import MAX_TRIALS


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a sweep of a schedule template over a grid or random search, with seeds, and report it",
        description=(
            "Train one run per setting and seed (a trial) into --out/trials/, then write report.md and "
            "report.html. Rerun the same command to resume an interrupted sweep."
        ),
        epilog=(
            "examples: lrlab sweep 'warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})' --grid w=0,2,5 "
            "--seeds 3;  lrlab sweep --preset exercise-warmup-length --epochs 3"
        ),
    )
    p.add_argument(
        "template", nargs="?", metavar="TEMPLATE", help="spec with {placeholders}, e.g. 'cosine({lr}, steps=30)'"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a sweep shipped with lrlab, e.g. exercise-warmup-length")
    source.add_argument("--file", metavar="PATH", help="a sweep file (.toml or .yaml)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=VALUES",
        help="grid values: w=0,1,2 or lr=log:1e-3:1:7 or lr=lin:0:1:5 (repeat for more parameters)",
    )
    p.add_argument(
        "--random",
        action="append",
        default=[],
        metavar="NAME=DIST",
        help="random search: lr=loguniform:1e-3:1, uniform:A:B, int:A:B or choice:A,B (with --trials)",
    )
    p.add_argument("--trials", type=int_at_least(1, MAX_TRIALS), help="random draws (with --random)")
    p.add_argument("--search-seed", type=non_negative_int, help="seed of the random draws (default 0)")
    p.add_argument("--seeds", help="training seeds: a count N (0..N-1) or a list 0,3,7 (default 1)")
    p.add_argument("--epochs", type=positive_int, help="epochs per trial (default: the sweep's, else 30)")
    p.add_argument("--per", choices=("epoch", "step"), help="the schedule's clock counts epochs or updates")
    add_experiment_options(p)
    p.add_argument("--metric", metavar="[max:|min:]NAME", help="what decides the best setting (default max:test_acc)")
    p.add_argument("--out", metavar="DIR", help="sweep folder (default out/sweep-<name>-<date-time>)")
    add_overwrite_option(p)
    p.add_argument(
        "--backend",
        choices=list(BACKENDS),
        default="local",
        help="where trials run: " + "; ".join(f"{b.name}: {b.description}" for b in BACKENDS.values()),
    )
    add_workers_option(p, "trials (local backend)")
    p.add_argument("--address", help="address of a running Ray cluster (default: start Ray here)")
    p.add_argument("--max-concurrent", type=positive_int, help="most trials at once on Ray (default: the CPUs)")
    p.add_argument(
        "--asha", action="store_true", help="stop poor trials early with Ray Tune's ASHA (needs --backend ray)"
    )
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--quiet", action="store_true", help="plain log lines instead of progress bars")
    p.set_defaults(run=run_sweep_command)


def build_sweep(args: argparse.Namespace) -> Any:
    """The sweep the arguments describe: the preset's or file's, with command-line values on top."""
    from lrlab.sweeps.sweep import plan_sweep

    if not (args.preset or args.file or args.template):
        raise SweepError("sweep needs a TEMPLATE, --preset NAME or --file PATH (e.g. --preset exercise-warmup-length)")
    return plan_sweep(
        args.preset or args.file,
        template=args.template,
        grid=args.grid,
        random=args.random,
        seeds=args.seeds,
        options={"batch_size": args.batch_size, "experiment": args.experiment, "optimizer": args.optimizer},
        where="--",
        trials=args.trials,
        search_seed=args.search_seed,
        epochs=args.epochs,
        per=args.per,
        conclusion_metric=args.metric,
    )


def run_sweep_command(args: argparse.Namespace) -> int:
    from lrlab.sweeps.run import run_sweep

    sweep = build_sweep(args)
    name = Path(sweep.name).stem if sweep.name else "sweep"
    out = Path(args.out) if args.out else Path("out") / f"sweep-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    outcome = run_sweep(
        sweep,
        out,
        backend=args.backend,
        address=args.address,
        overwrite=args.overwrite,
        data_path=args.data,
        device=args.device,
        quiet=args.quiet,
        asha=args.asha,
        max_concurrent=args.max_concurrent,
        threads=args.threads,
        workers=args.workers,
    )
    if outcome.records:
        print(outcome.summary().format())
    if not args.no_report:
        from lrlab.reports.sweep import write_sweep_report

        paths = write_sweep_report(out)
        print(f"report: {paths[0]} and {paths[1]}")
    print(f"results: {out / 'results.jsonl'}")
    return 0
