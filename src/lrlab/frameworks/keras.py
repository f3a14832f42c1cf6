"""Keras 3 adapter: an lrlab schedule as a ``LearningRateSchedule`` or a per-epoch callback.

`ScheduleLR` is what the optimizer calls with its update count
(``optimizer.iterations``, 0 at the first update) as a backend tensor. It
looks the rate up in a table of the schedule's values computed by lrlab in
float64 (see `lrlab.schedules.table`): ``table[min(step, N - 1)]``. A table traces on
every backend and is exact: each rate is ``schedule(step)`` rounded once to
the optimizer's float type, where a re-implementation in ``keras.ops`` would
be a second source of truth with its own float32 rounding. ``N`` is derived
when the schedule settles to a final value (cosine, poly, steps, warmup of
those, ...); for one that never does (exponential, cyclic, restarts) pass
``steps=``, the number of training updates; the rate is held after it.

It is registered as ``"lrlab>ScheduleLR"``: ``import lrlab.keras`` before
``keras.models.load_model`` and a saved model comes back with its schedule.

`ScheduleCallback` sets the rate once per epoch: during epoch ``e`` it is
``schedule(e)``.

```python
import lrlab.keras
lr = lrlab.keras.ScheduleLR("warmup(cosine(0.1, steps=900), steps=100)")
model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import as_schedule
from lrlab.schedules.table import rate_table

__all__ = ["ScheduleLR", "ScheduleCallback"]


@keras.saving.register_keras_serializable(package="lrlab")
class ScheduleLR(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``lr = schedule(step / steps_per_epoch)`` looked up in a table of ``N`` rates, held after.

    ``steps``: the number of updates to tabulate (needed only when the
    schedule never settles); ``steps_per_epoch``: run an epoch-defined
    schedule per update, in fractional epochs.
    """

    def __init__(
        self,
        schedule: Schedule | str | Mapping[str, Any],
        steps: int | None = None,
        steps_per_epoch: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.schedule = as_schedule(schedule, where="ScheduleLR")
        self.steps = steps
        self.steps_per_epoch = steps_per_epoch
        self.name = name
        self.values = rate_table(self.schedule, steps, steps_per_epoch, where="ScheduleLR")
        # built eagerly (outside any traced function) in the optimizer's float type
        self._table = keras.ops.convert_to_tensor(self.values, dtype=keras.config.floatx())

    def __call__(self, step: Any) -> Any:
        """The rate for update count ``step`` (a tensor, traced or not)."""
        last = int(self.values.shape[0]) - 1
        index = keras.ops.clip(keras.ops.cast(step, "int32"), 0, last)
        return keras.ops.take(self._table, index)

    def get_config(self) -> dict[str, Any]:
        """The schedule's text spec and the table's arguments."""
        return {
            "schedule": str(self.schedule),
            "steps": self.steps,
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScheduleLR:
        return cls(**config)


class ScheduleCallback(keras.callbacks.LearningRateScheduler):  # type: ignore[misc]
    """Set the optimizer's rate at the start of each epoch: ``schedule(epoch)`` (epochs from 0)."""

    def __init__(self, schedule: Schedule | str | Mapping[str, Any], verbose: int = 0) -> None:
        self.lr_schedule = as_schedule(schedule, where="ScheduleCallback")
        super().__init__(self._rate, verbose=verbose)

    def _rate(self, epoch: int, lr: float | None = None) -> float:
        return self.lr_schedule(int(epoch))
