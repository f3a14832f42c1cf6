"""The PyTorch adapter, at its public path ``lrlab.torch``; the code lives in `lrlab.frameworks.torch`."""

from lrlab.frameworks.torch import Hyperparams, ScheduleLR, as_schedule

__all__ = ["ScheduleLR", "Hyperparams", "as_schedule"]
