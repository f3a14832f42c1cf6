"""Your own experiment for lrlab: a small residual CNN with batch norm, trained with AdamW.

This file is what ``--experiment examples/residual_cnn.py`` loads: lrlab calls
``make_experiment()`` (with ``data=PATH`` when ``--data`` is given) and gets an
`lrlab.Experiment` back -- the data, a model factory, the loss, the metrics
and the optimizer. Everything the lab does for the chapter's LeNet then works
on it::

    lrlab compare "warmup(cosine(3e-3, steps=9), steps=1)" "constant(1e-3)" \\
        --experiment examples/residual_cnn.py --seeds 2 --epochs 10 --out out/resnet
    lrlab find-lr --experiment examples/residual_cnn.py --out out/resnet-lr --apply
    lrlab sweep "cosine({lr}, steps=10)" --grid lr=log:3e-4:1e-2:4 --experiment examples/residual_cnn.py

or from Python: ``lrlab.compare([...], experiment="examples/residual_cnn.py")``.

The data are Fashion-MNIST as lrlab finds it (or the four IDX files in the
folder ``data``), optionally only the first ``limit`` training and test images
(environment variable ``LRLAB_EXAMPLE_LIMIT``) for a quick look.
"""

from __future__ import annotations

import os

import torch
from torch import nn

import lrlab
from lrlab.lab.data import Dataset, load_fashion_mnist
from lrlab.lab.experiments.fashion_mnist import fashion_mnist_data


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut: ``relu(x' + f(x))``, ``x'`` = x or a 1x1 projection."""

    def __init__(self, channels_in: int, channels_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(channels_out),
            nn.ReLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False), nn.BatchNorm2d(channels_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.body(x))


def residual_cnn(classes: int = 10) -> nn.Module:
    """28x28 -> stem (8 channels) -> pool -> block(8) at 14x14 -> block(16, stride 2) at 7x7 -> average -> linear."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        Block(8, 8),
        Block(8, 16, stride=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, classes),
    )


def make_experiment(data: str | None = None) -> lrlab.Experiment:
    """The experiment lrlab runs for ``--experiment examples/residual_cnn.py``."""
    limit = int(os.environ.get("LRLAB_EXAMPLE_LIMIT", "0"))

    def load() -> lrlab.Data:
        full = load_fashion_mnist(data)
        if limit:
            full = Dataset(
                full.train_images[:limit],
                full.train_labels[:limit],
                full.test_images[:limit],
                full.test_labels[:limit],
                full.source,
            )
        return fashion_mnist_data(full)

    return lrlab.Experiment(
        name="fashion-mnist-residual-cnn",
        data=load,
        model=lambda seed: residual_cnn(),
        optimizer="adamw(weight_decay=0.05)",
        description="a small residual CNN with batch norm (two blocks, 8 and 16 channels) on Fashion-MNIST, AdamW",
    )
