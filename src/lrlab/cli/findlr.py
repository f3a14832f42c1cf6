"""``lrlab find-lr``: Smith's learning-rate range test on an experiment (default: the chapter's LeNet)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lrlab.cli._types import add_experiment_options, add_overwrite_option, int_at_least, positive_float, seed_int
from lrlab.errors import invalid

PLOT = "find-lr.png"
RESULT = "find-lr.json"
SCHEDULE = "schedule.txt"
#: the schedule --apply writes when given no template
DEFAULT_TEMPLATE = "cosine({lr}, steps=30)"


def add_commands(sub: Any) -> None:
    cmd = sub.add_parser(
        "find-lr",
        help="learning-rate range test: suggest a maximum learning rate",
        description=(
            "Train an experiment's model (default: the chapter's LeNet on Fashion-MNIST) for a few hundred "
            "updates while the learning rate grows from --start to --end (Smith 2017), stop when the loss blows "
            f"up, and suggest a maximum rate, naming the rule that gave it. Writes {PLOT} (loss against rate) "
            f"and {RESULT} to --out; --apply also writes the suggested schedule to {SCHEDULE}."
        ),
    )
    add_experiment_options(cmd)
    cmd.add_argument("--start", type=positive_float, default=1e-5, help="first learning rate (default 1e-5)")
    cmd.add_argument("--end", type=positive_float, default=10.0, help="last learning rate (default 10)")
    cmd.add_argument("--steps", type=int_at_least(2), default=200, help="most updates to run (default 200)")
    cmd.add_argument("--step-mode", choices=("exp", "linear"), default="exp", help="how the rate grows (default exp)")
    cmd.add_argument(
        "--validation",
        type=int_at_least(0),
        default=0,
        metavar="N",
        help="hold out N training examples and record their loss after each update (slower, less noisy)",
    )
    cmd.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and batches (default 0)")
    cmd.add_argument(
        "--apply",
        nargs="?",
        const=DEFAULT_TEMPLATE,
        metavar="TEMPLATE",
        help=f"write the suggested schedule: TEMPLATE with {{lr}} for the rate (default {DEFAULT_TEMPLATE!r})",
    )
    cmd.add_argument("--out", default="find-lr", help="folder for the plot and the JSON result (default find-lr)")
    add_overwrite_option(cmd)
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    cmd.set_defaults(run=run_find_lr)


def run_find_lr(args: argparse.Namespace) -> int:
    from lrlab.api import find_lr
    from lrlab.lab.store import atomic_write_text

    if args.end <= args.start:
        raise invalid("--end", args.end, f"> --start={args.start}", where="find-lr")
    if args.apply is not None and "{lr}" not in args.apply:
        raise invalid("--apply", args.apply, "a schedule spec with {lr} where the rate goes", where="find-lr")
    from lrlab.errors import LabError
    from lrlab.lab.store import FolderLock, claim_folder
    from lrlab.lab.train import resolve_device

    resolve_device(args.device)  # a device torch cannot train on: refused before the test runs
    out = Path(args.out)
    if out.exists():  # refuse earlier results (unless --overwrite) before the test runs; a new folder comes after
        if not out.is_dir():
            raise LabError(f"--out {str(out)!r} is a file, not a folder; give a folder path")
        with FolderLock(out, error=LabError):
            claim_folder(out, marker=RESULT, resume=False, overwrite=args.overwrite, error=LabError)
    result = find_lr(
        args.experiment,
        data=args.data,
        optimizer=args.optimizer,
        start=args.start,
        end=args.end,
        steps=args.steps,
        step_mode=args.step_mode,
        validation=args.validation,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        progress=not args.quiet,
        threads=args.threads,
    )
    written = result.save(out, overwrite=True)  # the folder was claimed above
    print(result.describe())
    if args.apply is not None and result.suggested_lr is not None:
        spec = str(result.schedule(args.apply))
        atomic_write_text(out / SCHEDULE, spec + "\n")
        print(f"suggested schedule: {spec} (in {out / SCHEDULE}); train it: lrlab train --schedule {json.dumps(spec)}")
    elif args.apply is not None:
        print("no schedule written: the test has no suggestion", file=sys.stderr)
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
