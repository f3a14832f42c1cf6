"""``lrlab train``, ``lrlab compare`` and ``lrlab report``: run the chapter's experiments and read them back.

torch is imported only when a training command runs, so ``lrlab --help`` and
``lrlab report`` stay light.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.cli._types import non_negative_int, positive_int
from lrlab.errors import ScheduleError
from lrlab.schedules.spec import parse

if TYPE_CHECKING:
    from lrlab.lab.train import Run, TrainConfig, Trainer


def add_commands(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="train the chapter's LeNet on Fashion-MNIST with one schedule",
        description="Train LeNet on Fashion-MNIST (SGD, batch 256) with one schedule and record every epoch.",
    )
    train.add_argument("--schedule", required=True, metavar="SPEC", help='e.g. "cosine(0.3, steps=20, final_lr=0.01)"')
    train.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the weights and the batch order (default 0)"
    )
    train.add_argument("--label", help="name of the run in tables and legends (default: the spec)")
    _common(train, epochs_default=30)
    train.set_defaults(run=run_train)

    compare = sub.add_parser(
        "compare",
        help="train several schedules side by side and write a report",
        description=(
            "Train several schedules together on the same batches (runs with the same seed see the same "
            "batches in the same order), then write report.md and report.html into --out."
        ),
    )
    compare.add_argument("specs", nargs="*", metavar="SPEC", help="schedules to compare (or --preset)")
    compare.add_argument("--preset", help="a preset of schedules and options, e.g. 'chapter'")
    compare.add_argument("--seeds", type=positive_int, default=1, help="seeds 0..N-1 for every schedule (default 1)")
    _common(compare, epochs_default=None)
    compare.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    compare.set_defaults(run=run_compare)

    report = sub.add_parser(
        "report",
        help="write report.md and report.html for a results folder",
        description="Read only the result files of a train, compare or sweep job and write report.md, report.html "
        "and PNGs.",
    )
    report.add_argument("folder", metavar="DIR", help="the --out folder of a train, compare or sweep job")
    report.set_defaults(run=run_report)


def _common(p: argparse.ArgumentParser, *, epochs_default: int | None) -> None:
    default = f"default {epochs_default}" if epochs_default else "default: the preset's, else 30"
    p.add_argument("--epochs", type=positive_int, default=epochs_default, help=f"epochs to train ({default})")
    p.add_argument(
        "--per",
        choices=("epoch", "step"),
        help="t counts epochs (lr of epoch e = schedule(e)) or updates (lr of update t = schedule(t)); default epoch",
    )
    p.add_argument("--batch-size", type=positive_int, help="minibatch size (default 256)")
    p.add_argument("--model", choices=("lenet", "tf"), help="lenet (the PyTorch tab) or tf (the TF tab's variant)")
    p.add_argument("--init", choices=("torch", "xavier"), help="weight init: torch's default or Xavier-uniform")
    p.add_argument("--out", metavar="DIR", help="results folder (default: out/<command>-<date-time>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted job in --out")
    p.add_argument("--data", metavar="PATH", help="folder with the four Fashion-MNIST IDX files (default: search)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument(
        "--fused",
        choices=("auto", "on", "off"),
        default="auto",
        help="train the runs of a seed in one vectorised pass (auto: off on CPU, on on CUDA)",
    )
    p.add_argument("--quiet", action="store_true", help="plain log lines instead of a progress bar")




# -- commands ----------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    from lrlab.lab.train import Run

    schedule = parse(args.schedule)
    runs = [Run(schedule, args.seed, args.label or str(schedule))]
    config = _config(args, {})
    out = Path(args.out) if args.out else _default_out("train")
    _train(args, runs, config, out)
    print(f"results: {out / 'metrics.jsonl'}; `lrlab report {out}` draws the figures")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from lrlab.lab.train import Run

    runs: list[Run] = []
    options: dict[str, Any] = {}
    if args.preset:
        from lrlab.lab.presets import load_preset

        preset = load_preset(args.preset)
        training = preset.training
        options = {
            "per": training.per,
            "epochs": training.epochs,
            "batch_size": training.batch_size,
            "model": training.model,
            "init": training.init,
        }
        pairs = [(r.label, r.schedule) for r in preset.runs]
    else:
        pairs = []
    for text in args.specs:
        schedule = parse(text)
        pairs.append((str(schedule), schedule))
    if not pairs and args.resume and args.out:
        runs, options = _stored_job(Path(args.out))
    elif not pairs:
        raise ScheduleError("compare needs at least one SPEC or --preset (e.g. --preset chapter)")
    else:
        runs = [Run(schedule, seed, label) for seed in range(args.seeds) for label, schedule in pairs]
    config = _config(args, options)
    name = args.preset or "compare"
    out = Path(args.out) if args.out else _default_out(Path(name).stem)
    _train(args, runs, config, out)
    if not args.no_report:
        from lrlab.reports.job import write_report

        paths = write_report(out)
        print(f"report: {paths[0]} and {paths[1]}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from lrlab.reports.sweep import is_sweep_folder, write_sweep_report

    folder = Path(args.folder)
    if is_sweep_folder(folder):  # a sweep's folder: its table, conclusion and figures
        md, html = write_sweep_report(folder)
    else:
        from lrlab.reports.job import write_report

        md, html = write_report(folder)
    print(f"report: {md} and {html}")
    return 0


# -- helpers -----------------------------------------------------------------------------------------
def _default_out(name: str) -> Path:
    return Path("out") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _stored_job(out: Path) -> tuple[list[Run], dict[str, Any]]:
    from lrlab.lab.train import Run

    path = out / "job.json"
    if not path.is_file():
        raise ScheduleError(f"--resume: {out} holds no job.json; give the SPECs or --preset of the job to start")
    job = json.loads(path.read_text())
    config = job["config"]
    options = {k: config[k] for k in ("per", "epochs", "batch_size")}
    options.update({"model": config["model"]["variant"], "init": config["model"]["init"]})
    return [Run(r["schedule"], r["seed"], r["label"]) for r in job["runs"]], options


def _config(args: argparse.Namespace, options: dict[str, Any]) -> TrainConfig:
    from lrlab.lab.models import ModelConfig
    from lrlab.lab.train import TrainConfig

    def pick(name: str, default: Any) -> Any:
        value = getattr(args, name, None)
        return value if value is not None else options.get(name, default)

    return TrainConfig(
        epochs=pick("epochs", 30),
        batch_size=pick("batch_size", 256),
        per=pick("per", "epoch"),
        model=ModelConfig(variant=pick("model", "lenet"), init=pick("init", "torch")),
    )


def _train(args: argparse.Namespace, runs: list[Run], config: TrainConfig, out: Path) -> None:
    from lrlab.lab.data import load_fashion_mnist
    from lrlab.lab.train import Trainer

    choices: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}
    fused = choices[args.fused]
    data = load_fashion_mnist(args.data, log=lambda text: print(text, file=sys.stderr))
    listener = _plain_listener() if args.quiet or not sys.stdout.isatty() else _rich_listener()
    print(f"data: {data.describe()}")
    print(f"{len(runs)} run(s), {config.epochs} epochs, per {config.per}, batch {config.batch_size}; results in {out}")
    try:
        trainer = Trainer(
            runs, config, data, out=out, resume=args.resume, device=args.device, fused=fused, listener=listener
        )
        trainer.run()
    except KeyboardInterrupt:
        print(f"stopped; the finished epochs are saved: rerun with --resume --out {out} to continue", file=sys.stderr)
        raise
    finally:
        listener.close()
    _summary(trainer)


def _summary(trainer: Trainer) -> None:
    width = max(len(o.run.label) for o in trainer.outcomes)
    for o in trainer.outcomes:
        final = o.final
        name = f"{o.run.label:<{width}} seed {o.run.seed}"
        if o.diverged_epoch is not None:
            print(f"{name}: DIVERGED in epoch {o.diverged_epoch} (loss {final and final['train_loss']})")
        elif final is not None:
            print(f"{name}: {_metrics(final)}")


def _metrics(rec: dict[str, Any]) -> str:
    def num(key: str) -> str:
        value = rec.get(key)
        return "-" if value is None else f"{value:.3f}"

    return f"train loss {num('train_loss')}, train acc {num('train_acc')}, test acc {num('test_acc')}"


def _lr(rec: dict[str, Any]) -> str:
    first, last = rec["lr_first"], rec["lr_last"]
    return f"lr {first:.4g}" if first == last else f"lr {first:.4g}->{last:.4g}"


def _plain_listener() -> Any:
    from lrlab.lab.train import Listener

    class Plain(Listener):
        def close(self) -> None:
            pass

        def started(self, trainer: Trainer) -> None:
            self.trainer = trainer
            self.labels = {o.run_id: f"{o.run.label} [seed {o.run.seed}]" for o in trainer.outcomes}
            if trainer.epochs_done:
                print(f"resuming after epoch {trainer.epochs_done}", flush=True)

        def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
            total = self.trainer.config.epochs
            for rec in records:
                if rec["type"] != "epoch":
                    continue
                state = "DIVERGED" if rec["diverged"] else _metrics(rec)
                print(
                    f"epoch {epoch}/{total} {self.labels[rec['run_id']]}: {state}, {_lr(rec)} "
                    f"({rec['epoch_seconds']:.1f} s)",
                    flush=True,
                )

    return Plain()


def _rich_listener() -> Any:
    from rich.console import Group
    from rich.live import Live
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from lrlab.lab.train import Listener

    class Fancy(Listener):
        def started(self, trainer: Trainer) -> None:
            self.trainer = trainer
            self.latest: dict[str, dict[str, Any]] = {o.run_id: o.final or {} for o in trainer.outcomes}
            self.progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            remaining = (trainer.config.epochs - trainer.epochs_done) * trainer.batches
            self.task = self.progress.add_task(
                "train", total=max(remaining, 1), epoch=trainer.epochs_done + 1, epochs=trainer.config.epochs
            )
            self.live = Live(Group(self.progress, self._table()), refresh_per_second=4, transient=False)
            self.live.start()

        def _table(self) -> Table:
            table = Table(box=None, pad_edge=False)
            for column in ("run", "seed", "epoch", "train loss", "train acc", "test acc", "lr"):
                table.add_column(column, justify="left" if column == "run" else "right")
            for o in self.trainer.outcomes:
                rec = self.latest.get(o.run_id) or {}
                if not rec:
                    table.add_row(o.run.label, str(o.run.seed), "-", "-", "-", "-", "-")
                    continue
                keys = ("train_loss", "train_acc", "test_acc")
                cells = [f"{rec[k]:.3f}" if rec.get(k) is not None else "-" for k in keys]
                if o.diverged_epoch is not None:
                    cells = ["[red]diverged", "-", "-"]
                table.add_row(o.run.label, str(o.run.seed), str(rec["epoch"]), *cells, _lr(rec).removeprefix("lr "))
            return table

        def batch(self, epoch: int, index: int, batches: int) -> None:
            self.progress.update(self.task, advance=1, epoch=epoch)

        def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
            for rec in records:
                if rec["type"] == "epoch":
                    self.latest[rec["run_id"]] = rec
            self.live.update(Group(self.progress, self._table()))

        def close(self) -> None:
            live = getattr(self, "live", None)
            if live is not None:
                live.stop()

    return Fancy()
