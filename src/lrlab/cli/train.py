"""``lrlab train``, ``lrlab compare`` and ``lrlab report``: run experiments and read them back.

Both training commands are `lrlab.api.compare` (``train`` with one schedule
and one seed): the same job, result files and report as from Python. torch
is imported only when a training command runs, so ``lrlab --help`` and
``lrlab report`` stay light.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lrlab.cli._types import (
    add_experiment_options,
    add_overwrite_option,
    add_workers_option,
    plain_warnings,
    positive_int,
    seed_int,
)
from lrlab.errors import TrainError


def add_commands(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="train one schedule on an experiment (default: the chapter's LeNet on Fashion-MNIST)",
        description="Train one schedule with one seed, record every epoch, and write a report.",
    )
    train.add_argument("--schedule", required=True, metavar="SPEC", help='e.g. "cosine(0.3, steps=20, final_lr=0.01)"')
    train.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and the batch order (default 0)")
    train.add_argument("--label", help="name of the run in tables and legends (default: the spec)")
    add_training_options(train, epochs_default=None)
    train.set_defaults(run=run_train)

    compare = sub.add_parser(
        "compare",
        help="train several schedules side by side, then report which one won",
        description=(
            "Train several schedules together on the same batches (runs with the same seed see the same "
            "batches in the same order), then write report.md and report.html into --out and say which "
            "schedule won, judged by paired differences over the seeds."
        ),
    )
    compare.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="schedules to compare (or --preset), each [LABEL=]SCHEDULE[ @ OPTIMIZER]: a run may name its own "
        "optimizer, e.g. 'schedule-free=warmup(constant(0.1), steps=2) @ schedulefree_sgd(momentum=0.9)'",
    )
    compare.add_argument("--preset", help="a preset of schedules and options, e.g. 'chapter'")
    compare.add_argument("--seeds", type=positive_int, default=1, help="seeds 0..N-1 for every schedule (default 1)")
    add_training_options(compare, epochs_default=None)
    compare.set_defaults(run=run_compare)

    report = sub.add_parser(
        "report",
        help="write report.md and report.html for a results folder",
        description="Read only the result files of a train, compare or sweep job and write report.md, report.html "
        "and PNGs.",
    )
    report.add_argument("folder", metavar="DIR", help="the --out folder of a train, compare or sweep job")
    report.set_defaults(run=run_report)


def add_training_options(p: argparse.ArgumentParser, *, epochs_default: int | None) -> None:
    """The options every training command shares (train, compare, sweep, find-lr use a part of them)."""
    default = f"default {epochs_default}" if epochs_default else "default: the preset's, else 30"
    add_experiment_options(p)
    p.add_argument("--epochs", type=positive_int, default=epochs_default, help=f"epochs to train ({default})")
    p.add_argument(
        "--per",
        choices=("epoch", "step"),
        help="t counts epochs (lr of epoch e = schedule(e)) or updates (lr of update t = schedule(t)); default epoch",
    )
    p.add_argument("--out", metavar="DIR", help="results folder (default: out/<command>-<date-time>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted job in --out")
    add_overwrite_option(p)
    p.add_argument(
        "--fused",
        choices=("auto", "on", "off"),
        default="auto",
        help="train the runs of a seed in one vectorised pass (auto: off on CPU, on on CUDA)",
    )
    p.add_argument(
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TensorBoard event files in --out/tensorboard (default: when tensorboard is installed)",
    )
    add_workers_option(p, "runs")
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        help="float type of the forward passes: float32 (default) or bfloat16 under torch's autocast, faster on "
        "CPUs with AVX-512 BF16 or AMX; its numbers differ (recorded in the job's identity)",
    )
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--quiet", action="store_true", help="plain log lines instead of a progress bar")


# -- commands ----------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    schedules = {args.label: args.schedule} if args.label else [args.schedule]
    return _run(args, schedules, seeds=[args.seed], preset=None, name="train")


def run_compare(args: argparse.Namespace) -> int:
    if not args.specs and not args.preset:
        if not (args.resume and args.out):
            raise TrainError("compare needs at least one SPEC or --preset (e.g. --preset chapter)")
        return _resume_stored(args)
    name = Path(args.preset or "compare").stem
    return _run(args, list(args.specs), seeds=list(range(args.seeds)), preset=args.preset, name=name)


def run_report(args: argparse.Namespace) -> int:
    from lrlab.api import load

    with plain_warnings("report"):
        result = load(args.folder)
    md, html = result.report()
    print(f"report: {md} and {html}")
    return 0


# -- helpers -----------------------------------------------------------------------------------------
def _run(
    args: argparse.Namespace, schedules: list[str] | dict[str, Any], *, seeds: list[int], preset: str | None, name: str
) -> int:
    from lrlab.api import compare
    from lrlab.lab.progress import progress_listener

    out = Path(args.out) if args.out else Path("out") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    choices: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}
    fused = choices[args.fused]
    print(f"results in {out}", flush=True)
    if args.resume and not (out / "job.json").is_file():
        print(f"--resume: {out} holds no job to resume; starting it fresh", flush=True)
    try:
        result = compare(
            schedules,
            experiment=args.experiment,
            preset=preset,
            seeds=seeds,
            epochs=args.epochs,
            batch_size=args.batch_size,
            per=args.per,
            optimizer=args.optimizer,
            data=args.data,
            out=out,
            resume=args.resume,
            overwrite=args.overwrite,
            device=args.device,
            fused=fused,
            tensorboard=args.tensorboard,
            progress=progress_listener(quiet=args.quiet),
            report=not args.no_report,
            threads=args.threads,
            workers=args.workers,
            precision=args.precision,
        )
    except KeyboardInterrupt:
        print(f"stopped; the finished epochs are saved: rerun with --resume --out {out} to continue", file=sys.stderr)
        raise
    print(result.table())
    print(result.conclusion)
    if not args.no_report:
        print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    print(f"results: {out / 'metrics.jsonl'} and {out / 'metrics.csv'}")
    return 0


def _resume_stored(args: argparse.Namespace) -> int:
    """``compare --resume --out DIR`` without SPECs: the runs and options stored in ``DIR/job.json``."""
    from lrlab.lab.store import read_job

    path = Path(args.out) / "job.json"
    if not path.is_file():
        raise TrainError(f"--resume: {args.out} holds no job.json; give the SPECs or --preset of the job to start")
    identity = read_job(path, fields=("job_id", "identity"))["identity"]
    try:
        config, runs = identity["config"], identity["runs"]
        [(r["label"], r["schedule"], int(r["seed"])) for r in runs]
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainError(f"--resume: {path} is not a job lrlab can resume (its identity lacks {exc})") from None
    seeds = sorted({int(r["seed"]) for r in runs})
    # a run with its own optimizer records it (``schedule @ optimizer`` runs)
    labels = list(dict.fromkeys((r["label"], r["schedule"], r.get("optimizer")) for r in runs))
    for key in ("experiment", "epochs", "batch_size", "per", "optimizer", "precision"):
        if getattr(args, key) is None:
            setattr(args, key, config.get(key))
    schedules = {label: (spec, own) if own else spec for label, spec, own in labels}
    return _run(args, schedules, seeds=seeds, preset=None, name="compare")
