"""Progress of a running job, for people: a rich live bar and table, or one plain line per run and epoch.

`progress_listener(quiet)` picks the live display on a terminal (and in
Jupyter, where rich renders it as HTML) and plain lines elsewhere (logs, CI).
Both show the experiment's own metrics.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lrlab.lab.train import Listener

if TYPE_CHECKING:
    from lrlab.lab.train import Trainer

__all__ = ["LiveProgress", "PlainProgress", "format_metrics", "progress_listener"]


def _shown(trainer: Trainer) -> list[str]:
    """The metrics shown: train loss, then the experiment's metrics on train and test (not the test loss)."""
    return [m for m in trainer.metric_names if m != "test_loss"]


def format_metrics(rec: dict[str, Any], names: list[str]) -> str:
    """``train loss 0.512, train acc 0.812, test acc 0.801`` ("-" for a missing value)."""

    def num(key: str) -> str:
        value = rec.get(key)
        return "-" if value is None else f"{value:.3f}"

    return ", ".join(f"{key.replace('_', ' ')} {num(key)}" for key in names)


def format_lr(rec: dict[str, Any]) -> str:
    """``lr 0.3`` or ``lr 0.3->0.28`` (the epoch's first and last update)."""
    first, last = rec["lr_first"], rec["lr_last"]
    return f"lr {first:.4g}" if first == last else f"lr {first:.4g}->{last:.4g}"


class PlainProgress(Listener):
    """One line per run and epoch, flushed at once (for logs and pipes)."""

    def started(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.names = _shown(trainer)
        self.labels = {o.run_id: f"{o.run.label} [seed {o.run.seed}]" for o in trainer.outcomes}
        if trainer.epochs_done:
            print(f"resuming after epoch {trainer.epochs_done}", flush=True)

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        total = self.trainer.config.epochs
        for rec in records:
            if rec["type"] != "epoch":
                continue
            state = "DIVERGED" if rec["diverged"] else format_metrics(rec, self.names)
            line = f"epoch {epoch}/{total} {self.labels[rec['run_id']]}: {state}, {format_lr(rec)}"
            print(f"{line} ({rec['epoch_seconds']:.1f} s)", flush=True)


class LiveProgress(Listener):
    """A rich progress bar over all batches of the job, and a table of every run's latest epoch."""

    def started(self, trainer: Trainer) -> None:
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

        self.trainer = trainer
        self.names = _shown(trainer)
        self.latest: dict[str, dict[str, Any]] = {o.run_id: o.final or {} for o in trainer.outcomes}
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        batches = trainer.batches or 1
        remaining = (trainer.config.epochs - trainer.epochs_done) * batches
        self.task = self.progress.add_task(
            "train", total=max(remaining, 1), epoch=trainer.epochs_done + 1, epochs=trainer.config.epochs
        )
        self.group = Group
        self.live: Any = Live(Group(self.progress, self._table()), refresh_per_second=4, transient=False)
        self.live.start()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("run", "seed", "epoch", *(n.replace("_", " ") for n in self.names), "lr"):
            table.add_column(column, justify="left" if column == "run" else "right")
        for o in self.trainer.outcomes:
            rec = self.latest.get(o.run_id) or {}
            if not rec:
                table.add_row(o.run.label, str(o.run.seed), "-", *("-" for _ in self.names), "-")
                continue
            cells = [f"{rec[k]:.3f}" if rec.get(k) is not None else "-" for k in self.names]
            if o.diverged_epoch is not None:
                cells = ["[red]diverged", *("-" for _ in self.names[1:])]
            table.add_row(o.run.label, str(o.run.seed), str(rec["epoch"]), *cells, format_lr(rec).removeprefix("lr "))
        return table

    def batch(self, epoch: int, index: int, batches: int | None) -> None:
        self.progress.update(self.task, advance=1, epoch=epoch)

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if rec["type"] == "epoch":
                self.latest[rec["run_id"]] = rec
        self.live.update(self.group(self.progress, self._table()))

    def close(self) -> None:
        live = getattr(self, "live", None)
        if live is not None:
            live.stop()
            self.live = None


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_listener(quiet: bool = False) -> Listener:
    """`LiveProgress` on a terminal or in Jupyter, `PlainProgress` otherwise (or when `quiet`)."""
    if not quiet and (sys.stdout.isatty() or _in_notebook()):
        return LiveProgress()
    return PlainProgress()
