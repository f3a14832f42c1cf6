"""The Keras 3 adapter, at its public path ``lrlab.keras``; the code lives in `lrlab.frameworks.keras`."""

from lrlab.frameworks.keras import HyperparamCallback, ScheduleCallback, ScheduleLR

__all__ = ["HyperparamCallback", "ScheduleCallback", "ScheduleLR"]
