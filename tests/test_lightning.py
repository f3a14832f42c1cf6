"""`lrlab.torch.ScheduleLR` inside PyTorch Lightning, stepped per update, with times in units.

The schedule is written as in the issue, ``warmup(cosine(0.1, steps="90ep"), steps="500ba")``, scaled
down to a tiny run (``"3ba"`` of warmup, ``"2ep"`` of cosine, 4 updates per epoch, 3 epochs), and
bound by `ScheduleLR(..., per="step", steps_per_epoch=4, epochs=3)`. Lightning calls ``step()``
after every update (``"interval": "step"``); the optimizer's rate at every update is compared with
the hand formula: ``0.1 * t / 3`` while warming up, then ``0.05 * (1 + cos(pi * min(t - 3, 8) / 8))``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from lrlab.torch import ScheduleLR  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS_PER_EPOCH = 4
EPOCHS = 3
SPEC = 'warmup(cosine(0.1, steps="2ep"), steps="3ba")'


def by_hand(t: int) -> float:
    if t < 3:
        return 0.1 * t / 3
    return 0.05 * (1 + math.cos(math.pi * min(t - 3, 8) / 8))


class Tiny(L.LightningModule):  # type: ignore[misc]
    """A linear model on random data that records the optimizer's rate at every update."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        self.rates: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        self.rates.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        scheduler = ScheduleLR(optimizer, SPEC, per="step", steps_per_epoch=STEPS_PER_EPOCH, epochs=EPOCHS)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def test_lightning_steps_the_bound_schedule_at_every_update() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8 * STEPS_PER_EPOCH, 3, generator=generator)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    assert len(loader) == STEPS_PER_EPOCH
    model = Tiny()
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    updates = STEPS_PER_EPOCH * EPOCHS
    assert len(model.rates) == updates
    assert model.rates == pytest.approx([by_hand(t) for t in range(updates)], rel=1e-12, abs=1e-15)
    # the scheduler holds the bound schedule: its checkpoint state needs no units to resume
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert str(scheduler.schedule) == "warmup(cosine(0.1, steps=8), steps=3)"
