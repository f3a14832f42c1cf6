"""An experiment whose model draws random numbers while it trains (dropout), for tests of run independence.

Importable by name (``dropout_experiment:make``) so that worker processes can build it too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import lrlab


def _blobs(n: int, seed: int) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 8, generator=g) + torch.nn.functional.one_hot(y, 8).float() * 2.0
    return x, y


def _model(seed: int) -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))


def make() -> lrlab.Experiment:
    """Three blobs in 8-d, an MLP with dropout (half its hidden units dropped at each training step)."""
    data = lrlab.Data(train=_blobs(400, 0), test=_blobs(100, 1), description="400 + 100 blobs")
    return lrlab.Experiment(name="dropout-blobs", data=data, model=_model, description="an MLP with dropout")
