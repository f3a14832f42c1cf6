"""MXNet adapter: an lrlab schedule as a ``mxnet.lr_scheduler.LRScheduler`` for ``gluon.Trainer``.

MXNet counts updates from 1: its optimizer increments ``num_update`` before
asking the scheduler, so the first update asks for ``num_update = 1``.
`ScheduleScheduler` hides that: the rate for ``num_update`` is
``schedule(t)`` with ``t = num_update - 1`` (lrlab's count of updates already
done; ``num_update = 0``, before any update, also reads ``t = 0``). It is
stateless, so a trainer restored at any point gets the right rate.

MXNet 1.9.1 needs ``numpy<1.24`` (``make test-mxnet`` builds such a venv).
This module imports without MXNet; using the class then raises ImportError.

```python
from mxnet import gluon
from lrlab.mxnet import ScheduleScheduler
sched = ScheduleScheduler("warmup(cosine(0.1, steps=900), steps=100)")
trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": sched})
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrlab.schedules.base import Schedule, optional_count
from lrlab.schedules.spec import as_schedule

__all__ = ["ScheduleScheduler"]

_import_error: ImportError | None
try:
    from mxnet.lr_scheduler import LRScheduler as _Base
except ImportError as exc:  # the core and the other adapters must not need MXNet
    _Base = object
    _import_error = exc
else:
    _import_error = None


class ScheduleScheduler(_Base):  # type: ignore[misc,valid-type]
    """``lr(num_update) = schedule((num_update - 1) / steps_per_epoch)`` (``steps_per_epoch`` 1 by default)."""

    def __init__(self, schedule: Schedule | str | Mapping[str, Any], *, steps_per_epoch: int | None = None) -> None:
        if _import_error is not None:
            raise ImportError(f"lrlab.mxnet needs mxnet (1.9.1 with numpy<1.24): {_import_error}")
        self.schedule = as_schedule(schedule, where="ScheduleScheduler")
        self.steps_per_epoch = optional_count("ScheduleScheduler", "steps_per_epoch", steps_per_epoch)
        super().__init__(base_lr=self.schedule(0))

    def __call__(self, num_update: int) -> float:
        """The rate MXNet uses for its update number ``num_update`` (counted from 1)."""
        done = max(int(num_update) - 1, 0)
        return self.schedule(done if self.steps_per_epoch is None else done / self.steps_per_epoch)

    def __repr__(self) -> str:
        return f"ScheduleScheduler({str(self.schedule)!r}, steps_per_epoch={self.steps_per_epoch!r})"
