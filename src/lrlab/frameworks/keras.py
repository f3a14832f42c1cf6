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

import inspect
from collections.abc import Mapping
from typing import Any

import keras

from lrlab.errors import closest_names, invalid
from lrlab.frameworks.hyperparams import Hyperparams
from lrlab.schedules.base import Schedule, optional_count
from lrlab.schedules.spec import as_schedule
from lrlab.schedules.table import rate_table
from lrlab.schedules.units import bind_if_needed

__all__ = ["ScheduleLR", "ScheduleCallback", "HyperparamCallback"]


@keras.saving.register_keras_serializable(package="lrlab")
class ScheduleLR(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``lr = schedule(step / steps_per_epoch)`` looked up in a table of ``N`` rates, held after.

    ``steps``: the number of updates to tabulate (needed only when the
    schedule never settles); ``steps_per_epoch``: run an epoch-defined
    schedule per update, in fractional epochs. Times with units (``"500ba"``,
    ``"90ep"``, ``"0.2dur"``) are bound (`lrlab.bind`): ``per="step"`` on the
    update count (``steps_per_epoch`` then only binds), ``per="epoch"`` (or no
    ``per`` with ``steps_per_epoch``) in fractional epochs; ``epochs`` for ``dur``.
    """

    def __init__(
        self,
        schedule: Schedule | str | Mapping[str, Any],
        steps: int | None = None,
        steps_per_epoch: int | None = None,
        name: str | None = None,
        per: str | None = None,
        epochs: int | None = None,
    ) -> None:
        super().__init__()
        written = as_schedule(schedule, where="ScheduleLR")
        # times with units ("500ba", "90ep") bound: per="step" on the update count, per="epoch" in epochs
        self.schedule = bind_if_needed(
            written, per=per, steps_per_epoch=steps_per_epoch, epochs=epochs, where="ScheduleLR"
        )
        self.steps = steps
        self.steps_per_epoch = steps_per_epoch
        self.per = per
        self.epochs = epochs
        self.name = name
        divisor = None if per == "step" else steps_per_epoch
        self.values = rate_table(self.schedule, steps, divisor, where="ScheduleLR")
        # built eagerly (outside any traced function) in the optimizer's float type
        self._table = keras.ops.convert_to_tensor(self.values, dtype=keras.config.floatx())

    def __call__(self, step: Any) -> Any:
        """The rate for update count ``step`` (a tensor, traced or not)."""
        # in float32 (exact up to 2**24, beyond any table): an int64 count past 2**31 does not wrap,
        # NaN and counts past the table read the last rate, a negative count the first
        last = float(self.values.shape[0] - 1)
        count = keras.ops.cast(step, "float32")
        count = keras.ops.maximum(keras.ops.where(count < last, count, last), 0.0)
        return keras.ops.take(self._table, keras.ops.cast(count, "int32"))

    def get_config(self) -> dict[str, Any]:
        """The schedule's text spec and the table's arguments."""
        return {
            "schedule": str(self.schedule),
            "steps": self.steps,
            "steps_per_epoch": self.steps_per_epoch,
            "name": self.name,
            "per": self.per,
            "epochs": self.epochs,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScheduleLR:
        """The schedule `get_config` describes; a missing or unknown key is named in the error."""
        where = "ScheduleLR.from_config"
        if not isinstance(config, Mapping):
            raise invalid("config", config, "a dict from ScheduleLR.get_config()", where=where)
        known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        for key, value in config.items():
            if key not in known:
                hint = closest_names(str(key), known)
                raise invalid(f"config[{key!r}]", value, f"an argument of ScheduleLR ({hint})", where=where)
        if "schedule" not in config:
            raise invalid(
                "config['schedule']", None, f"present (the schedule's spec; keys given: {sorted(config)})", where=where
            )
        return cls(**config)


class ScheduleCallback(keras.callbacks.LearningRateScheduler):  # type: ignore[misc]
    """Set the optimizer's rate at the start of each epoch: ``schedule(epoch)`` (epochs from 0)."""

    def __init__(
        self,
        schedule: Schedule | str | Mapping[str, Any],
        verbose: int = 0,
        *,
        steps_per_epoch: int | None = None,
        epochs: int | None = None,
    ) -> None:
        written = as_schedule(schedule, where="ScheduleCallback")
        # per epoch: times with units ("500ba" needs steps_per_epoch, "0.2dur" epochs) bound to epochs
        self.lr_schedule = bind_if_needed(
            written, per="epoch", steps_per_epoch=steps_per_epoch, epochs=epochs, where="ScheduleCallback"
        )
        super().__init__(self._rate, verbose=verbose)

    def _rate(self, epoch: int, lr: float | None = None) -> float:
        return self.lr_schedule(int(epoch))


class HyperparamCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Set the optimizer's momentum and weight decay before each update: ``schedule(iterations / steps_per_epoch)``.

    Keras optimizers take a schedule for the rate only (`ScheduleLR`); their
    ``momentum`` (SGD, RMSprop), ``beta_1`` (Adam, AdamW, ...) and
    ``weight_decay`` are plain numbers read at each update. This callback
    sets them from lrlab schedules before every batch, so it needs a train
    step that reads them each time: the torch backend, or
    ``model.compile(run_eagerly=True)`` (a compiled JAX or TensorFlow step
    keeps the number it was traced with, so the callback refuses it). SGD
    must be built with ``momentum > 0`` (else it has no velocity to use).
    ``momentum`` goes to ``beta_1`` when the optimizer has one. A
    `lrlab.torch.Hyperparams` value brings both (its ``lr`` belongs in `ScheduleLR`).
    """

    def __init__(
        self,
        momentum: Schedule | str | Mapping[str, Any] | Hyperparams | None = None,
        weight_decay: Schedule | str | Mapping[str, Any] | None = None,
        *,
        steps_per_epoch: int | None = None,
    ) -> None:
        super().__init__()
        where = "HyperparamCallback"
        if isinstance(momentum, Hyperparams):
            bundle = momentum
            momentum = bundle.momentum
            weight_decay = bundle.weight_decay if weight_decay is None else weight_decay
        given = {"momentum": momentum, "weight_decay": weight_decay}
        self.schedules = {k: as_schedule(v, k, where=where) for k, v in given.items() if v is not None}
        if not self.schedules:
            raise invalid("momentum", None, "a schedule (or weight_decay one): nothing to set", where=where)
        self.steps_per_epoch = optional_count(where, "steps_per_epoch", steps_per_epoch)
        self._attrs: dict[str, str] = {}

    def on_train_begin(self, logs: Any = None) -> None:
        where = "HyperparamCallback"
        opt = self.model.optimizer
        if keras.backend.backend() != "torch" and not self.model.run_eagerly:
            need = "'torch', or a model compiled with run_eagerly=True (a compiled step keeps its first value)"
            raise invalid("backend", keras.backend.backend(), need, where=where)
        self._attrs = {}
        if "momentum" in self.schedules:
            attr = "beta_1" if hasattr(opt, "beta_1") else "momentum" if hasattr(opt, "momentum") else None
            if attr is None:
                raise invalid("optimizer", type(opt).__name__, "one with momentum or beta_1", where=where)
            if attr == "momentum" and isinstance(opt, keras.optimizers.SGD) and opt.momentum == 0:
                need = "> 0 when SGD is built (it has no velocity otherwise)"
                raise invalid("optimizer.momentum", 0.0, need, where=where)
            self._attrs["momentum"] = attr
        if "weight_decay" in self.schedules:
            self._attrs["weight_decay"] = "weight_decay"

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        opt = self.model.optimizer
        n = int(keras.ops.convert_to_numpy(opt.iterations))
        t = n if self.steps_per_epoch is None else n / self.steps_per_epoch
        for name, attr in self._attrs.items():
            setattr(opt, attr, float(self.schedules[name](t)))
