"""The built-in experiments' networks: the chapter's LeNet (the PyTorch and MXNet tabs), the TF tab's variant, an MLP.

``lenet()`` is the PyTorch tab's network with PyTorch's default
initialisation; ``init="xavier"`` gives the MXNet tab's Xavier-uniform
weights (zero biases), ``variant="tf"`` the TensorFlow tab's network
(average pooling, a sigmoid 84-unit layer; use it with ``init="xavier"``,
Keras's Glorot-uniform default). ``mlp()`` is a network that is not a
LeNet, for checking that a conclusion holds beyond the chapter's model.
Each draws its weights from torch's global RNG: the lab seeds it per run.
"""

from __future__ import annotations

from torch import nn

from lrlab.errors import ExperimentError, invalid

__all__ = ["INITS", "VARIANTS", "lenet", "mlp"]

VARIANTS = ("lenet", "tf")
INITS = ("torch", "xavier")


def lenet(variant: str = "lenet", init: str = "torch") -> nn.Sequential:
    """Conv(1->6,k5,pad2)-act-pool-Conv(6->16,k5)-act-pool-Flatten-400->120->84->10.

    ``variant="lenet"``: ReLU and 2x2 max pooling throughout. ``variant="tf"``:
    2x2 average pooling and a sigmoid after the 84-unit layer.
    """
    if variant not in VARIANTS:
        raise invalid(
            "variant", variant, "one of " + ", ".join(map(repr, VARIANTS)), where="lenet", error=ExperimentError
        )
    if init not in INITS:
        raise invalid("init", init, "one of " + ", ".join(map(repr, INITS)), where="lenet", error=ExperimentError)

    def act_pool() -> list[nn.Module]:
        if variant == "tf":
            return [nn.ReLU(), nn.AvgPool2d(kernel_size=2, stride=2)]
        # max(relu(x)) == relu(max(x)), and the gradient reaches the same element: the chapter's
        # ReLU-then-pool, computed pool-then-ReLU on a quarter of the values (bitwise the same
        # numbers, about 5-8 % faster a step on the CPU; benchmarks/PROFILE.md)
        return [nn.MaxPool2d(kernel_size=2, stride=2), nn.ReLU()]

    act84: nn.Module = nn.ReLU() if variant == "lenet" else nn.Sigmoid()
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
    if init == "xavier":
        for module in net.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return net


def mlp(inputs: int = 28 * 28, hidden: int = 256, classes: int = 10) -> nn.Sequential:
    """Flatten-``inputs``->``hidden``-ReLU->``hidden``-ReLU->``classes``: two hidden layers, torch's init."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(inputs, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )
