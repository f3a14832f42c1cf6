"""Logging a job to the tools people already watch: TensorBoard event files, one folder per run.

`TensorBoardLogger` writes, for each run, into ``<out>/tensorboard/<label>-seed<seed>/``:

* ``lr`` -- the rate the optimizer used: per update for a run clocked per
  step (step = the update's index ``t``, from 0), per epoch for a run clocked
  per epoch (step = the epoch, from 1, the same x as that epoch's metrics);
* ``train/loss``, ``train/<metric>``, ``test/loss``, ``test/<metric>`` -- after
  each epoch (step = the epoch; per step: the index of the epoch's last update).

It needs the ``tensorboard`` package (``pip install "lrlab[tensorboard]"``);
`tensorboard_logger` returns None without it unless it was asked for. On
resume the events after the checkpoint are purged, so a cut-short epoch is
not logged twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrlab.errors import TrainError
from lrlab.lab.store import TENSORBOARD
from lrlab.lab.train import Listener

if TYPE_CHECKING:
    from lrlab.lab.train import RunOutcome, Trainer

__all__ = ["TensorBoardLogger", "tensorboard_logger"]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=+-]+", "-", text).strip("-")[:60] or "run"


def tensorboard_logger(out: str | Path | None, wanted: bool | None) -> TensorBoardLogger | None:
    """A logger into ``<out>/tensorboard`` when `wanted` (True: required; None: if tensorboard is installed)."""
    if out is None or wanted is False:
        if wanted and out is None:
            raise TrainError("tensorboard=True needs an output folder (--out) to write the event files into")
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        if wanted:
            raise TrainError(
                'TensorBoard logging needs the tensorboard package: pip install "lrlab[tensorboard]"'
            ) from None
        return None
    return TensorBoardLogger(Path(out) / TENSORBOARD)


class TensorBoardLogger(Listener):
    """Per-run TensorBoard scalars (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, Any] = {}
        self.per_step = False
        self.outcomes: dict[str, RunOutcome] = {}

    def started(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.per_step = trainer.config.per == "step"
        used: set[str] = set()
        for o in trainer.outcomes:
            name = f"{_slug(o.run.label)}-seed{o.run.seed}"
            while name in used:
                name += f"-{o.index}"
            used.add(name)
            resume_at = o.updates if self.per_step else trainer.epochs_done + 1
            purge = resume_at if trainer.epochs_done else None
            self.writers[o.run_id] = SummaryWriter(log_dir=str(self.folder / name), purge_step=purge)
            self.outcomes[o.run_id] = o

    def update(self, outcome: RunOutcome, index: int, lr: float) -> None:
        """Update `index` (from 0) of a run is about to be taken at rate `lr`."""
        if self.per_step:
            self.writers[outcome.run_id].add_scalar("lr", lr, index)

    def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if rec.get("type") != "epoch":
                continue
            writer = self.writers[rec["run_id"]]
            step = self.outcomes[rec["run_id"]].updates - 1 if self.per_step else epoch
            if not self.per_step:
                writer.add_scalar("lr", rec["lr_first"], step)
            for key, value in rec.items():
                split = key.split("_", 1)
                if split[0] in ("train", "test") and len(split) == 2 and isinstance(value, int | float):
                    writer.add_scalar(f"{split[0]}/{split[1]}", value, step)
            writer.flush()

    def finished(self, trainer: Trainer) -> None:
        self.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
