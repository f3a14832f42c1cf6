"""The MXNet adapter, at its public path ``lrlab.mxnet``; the code lives in `lrlab.frameworks.mxnet`."""

from lrlab.frameworks.mxnet import ScheduleScheduler

__all__ = ["ScheduleScheduler"]
