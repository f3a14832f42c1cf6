"""The chapter's network: LeNet with ReLU and max pooling (the PyTorch and MXNet tabs), and the TF tab's variant.

``lenet()`` is the PyTorch tab's network with PyTorch's default initialisation;
``init="xavier"`` gives the MXNet tab's Xavier-uniform weights (zero biases),
``variant="tf"`` the TensorFlow tab's network (average pooling, a sigmoid
84-unit layer; use it with ``init="xavier"``, Keras's Glorot-uniform default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from lrlab.errors import invalid

__all__ = ["INITS", "VARIANTS", "ModelConfig", "build_model", "lenet"]

VARIANTS = ("lenet", "tf")
INITS = ("torch", "xavier")


@dataclass(frozen=True)
class ModelConfig:
    """Which network: ``variant`` in `VARIANTS`, ``init`` in `INITS`."""

    variant: str = "lenet"
    init: str = "torch"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise invalid("variant", self.variant, "one of " + ", ".join(map(repr, VARIANTS)), where="model")
        if self.init not in INITS:
            raise invalid("init", self.init, "one of " + ", ".join(map(repr, INITS)), where="model")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lenet(variant: str = "lenet", init: str = "torch") -> nn.Sequential:
    """Conv(1->6,k5,pad2)-act-pool-Conv(6->16,k5)-act-pool-Flatten-400->120->84->10.

    ``variant="lenet"``: ReLU and 2x2 max pooling throughout. ``variant="tf"``:
    2x2 average pooling and a sigmoid after the 84-unit layer. The weights come
    from the global torch RNG: seed it first (``torch.manual_seed``).
    """
    config = ModelConfig(variant, init)

    def act_pool() -> list[nn.Module]:
        if config.variant == "tf":
            return [nn.ReLU(), nn.AvgPool2d(kernel_size=2, stride=2)]
        # max(relu(x)) == relu(max(x)), and the gradient reaches the same element: the chapter's
        # ReLU-then-pool, computed pool-then-ReLU on a quarter of the values (bitwise the same
        # numbers, about 5-8 % faster a step on the CPU; benchmarks/PROFILE.md)
        return [nn.MaxPool2d(kernel_size=2, stride=2), nn.ReLU()]

    act84: nn.Module = nn.ReLU() if config.variant == "lenet" else nn.Sigmoid()
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        *act_pool(),
        nn.Conv2d(6, 16, kernel_size=5),
        *act_pool(),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        act84,
        nn.Linear(84, 10),
    )
    if config.init == "xavier":
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return net


def build_model(config: ModelConfig, seed: int) -> nn.Sequential:
    """`lenet` with weights drawn from a torch RNG seeded with `seed` (the global RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return lenet(config.variant, config.init)
