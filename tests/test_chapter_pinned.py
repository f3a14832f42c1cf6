"""The chapter's experiment gives the numbers it gave before the lab was opened to other experiments.

`golden/chapter_pinned.json` holds three epochs of four runs (two schedules, two
seeds) on a small subset of the real Fashion-MNIST, trained by lrlab before the
restructuring (its ``source`` says how). The same runs through today's trainer
must give the same numbers: bit for bit on the CPU kind they were recorded on
(float rounding of the convolution kernels may differ on another kind, so
there a tolerance of a few float32 ulps of growth applies, and every test
accuracy within one image).

The real data come from Debian's ``dataset-fashion-mnist``, which ``make
setup`` installs; without it this test fails, saying how to get it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from lrlab.lab.config import TrainConfig  # noqa: E402
from lrlab.lab.data import DEBIAN_DIR, Dataset, load_fashion_mnist  # noqa: E402
from lrlab.lab.train import Run, train  # noqa: E402

PINNED = json.loads((Path(__file__).parent / "golden" / "chapter_pinned.json").read_text())


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@pytest.fixture(scope="module")
def subset() -> Dataset:
    try:
        full = load_fashion_mnist(download=False)
    except Exception as exc:
        pytest.fail(f"the real Fashion-MNIST is needed ({exc}); `make setup` installs it from {DEBIAN_DIR}")
    n, m = PINNED["train_images"], PINNED["test_images"]
    return Dataset(
        full.train_images[:n], full.train_labels[:n], full.test_images[:m], full.test_labels[:m], full.source
    )


@pytest.fixture(scope="module")
def histories(subset: Dataset) -> list[list[dict[str, Any]]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = [Run(r["schedule"], r["seed"]) for r in PINNED["runs"]]
        config = TrainConfig(epochs=PINNED["epochs"], batch_size=PINNED["batch_size"])
        return [o.history for o in train(runs, config, data=subset)]
    finally:
        torch.set_num_threads(threads)


def test_the_chapters_runs_give_the_pinned_numbers(histories: list[list[dict[str, Any]]]) -> None:
    same_kind = _cpu() == PINNED["cpu"]
    for pinned, got in zip(PINNED["runs"], histories, strict=True):
        assert len(got) == len(pinned["epochs"])
        for want, rec in zip(pinned["epochs"], got, strict=True):
            assert rec["epoch"] == want["epoch"]
            assert (rec["lr_first"], rec["lr_last"]) == (want["lr_first"], want["lr_last"])  # the schedule: exact
            if same_kind:
                for key in ("train_loss", "train_acc", "test_acc"):
                    assert rec[key] == want[key], (pinned["schedule"], pinned["seed"], want["epoch"], key)
            else:
                assert rec["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
                assert rec["train_acc"] == pytest.approx(want["train_acc"], abs=2 / PINNED["train_images"])
                assert rec["test_acc"] == pytest.approx(want["test_acc"], abs=1 / PINNED["test_images"])


def test_the_runs_learn(histories: list[list[dict[str, Any]]]) -> None:
    """A check on the pin itself: after three short epochs (8 updates each) every run is above chance (0.1)."""
    assert all(h[-1]["test_acc"] > 0.15 and h[-1]["train_loss"] < h[0]["train_loss"] for h in histories)
