"""JAX / optax adapter: an lrlab schedule as an optax schedule (a function of the step count).

`to_optax` returns ``count -> rate`` that works under ``jax.jit`` and as the
``learning_rate`` of any optax optimizer. Like `lrlab.keras`, it looks the
rate up in a table of the schedule's values computed by lrlab in float64
(see `lrlab.schedules.table`): ``table[clip(count, 0, N - 1)]`` (a NaN count
reads ``table[N - 1]``). Each rate is the
schedule's own, rounded once to the table's float type: float32, or float64
when ``jax_enable_x64`` is on (then it is exactly ``schedule(count)``).

```python
import optax
from lrlab.optax import to_optax
opt = optax.adamw(to_optax("warmup(cosine(3e-4, steps=9000), steps=1000)"))
```
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrlab.errors import invalid
from lrlab.frameworks.hyperparams import Hyperparams
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import as_schedule
from lrlab.schedules.table import rate_table
from lrlab.schedules.units import bind_if_needed

__all__ = ["to_optax", "inject"]


def to_optax(
    schedule: Schedule | str | Mapping[str, Any],
    *,
    steps: int | None = None,
    steps_per_epoch: int | None = None,
    dtype: Any = None,
    per: str | None = None,
    epochs: int | None = None,
) -> Callable[[Any], Any]:
    """``count -> schedule(count / steps_per_epoch)``, traceable, held after the table's end.

    ``steps`` is the number of updates to tabulate; it is needed only for a
    schedule that never settles to a final value (exponential, cyclic,
    restarts), and the rate is held after it. ``dtype`` defaults to JAX's
    default float (float32, or float64 under ``jax_enable_x64``) at the time
    of this call.

    Times with units (``"500ba"``, ``"90ep"``, ``"0.2dur"``) are bound (`lrlab.bind`):
    ``per="step"`` puts them on the update count (``steps_per_epoch`` then only binds),
    ``per="epoch"`` (or no ``per`` with ``steps_per_epoch``) in epochs, counted in fractions.
    """
    written = as_schedule(schedule, where="to_optax")
    schedule = bind_if_needed(written, per=per, steps_per_epoch=steps_per_epoch, epochs=epochs, where="to_optax")
    divisor = None if per == "step" else steps_per_epoch
    values = rate_table(schedule, steps, divisor, where="to_optax")
    float_type = jnp.asarray(0.0).dtype if dtype is None else jnp.dtype(dtype)
    table: Any = jnp.asarray(values, dtype=float_type)
    if isinstance(table, jax.core.Tracer):  # called inside a traced function: do not keep a tracer
        table = values.astype(float_type)
    last = int(values.shape[0]) - 1

    def rate(count: Any) -> Any:
        # the count as a float (exact up to 2**24, beyond any table): a count past 2**31 does not wrap,
        # NaN and counts past the table read the last rate, a negative count the first
        if not isinstance(count, jax.Array):
            count = np.asarray(count, dtype=np.float64)  # a Python int past int32 (no x64) cannot be an array
        x = jnp.asarray(count).astype(jnp.float32)
        index = jnp.maximum(jnp.where(x < last, x, last), 0).astype(jnp.int32)
        return jnp.asarray(table)[index]

    rate.__doc__ = f"lrlab schedule {schedule} ({last + 1} tabulated updates)"
    return rate


def inject(
    optimizer: Callable[..., Any],
    hyperparams: Hyperparams | None = None,
    /,
    *,
    steps: int | None = None,
    steps_per_epoch: int | None = None,
    dtype: Any = None,
    **values: Any,
) -> Any:
    """``optax.inject_hyperparams(optimizer)(...)`` with lrlab schedules for any of its hyperparameters.

    Each keyword is one of the optimizer's own arguments: a schedule (a
    `Schedule`, a text or dict spec) becomes `to_optax` of it (with
    ``steps``, ``steps_per_epoch``, ``dtype``), anything else is passed as it
    is. The state's ``hyperparams`` then hold the values of the latest update.
    A `Hyperparams` value (``lrlab.compat.torch.OneCycleLR(...)``) fills
    ``learning_rate``, ``momentum`` (``b1`` for Adam-like optimizers) and
    ``weight_decay``.

    >>> import optax
    >>> opt = inject(optax.sgd, learning_rate="cosine(0.1, steps=100)", momentum="linear(0.95, 0.85, 100)")
    """
    where = "lrlab.optax.inject"
    known = list(inspect.signature(optimizer).parameters)
    given = dict(values)
    if hyperparams is not None:
        if not isinstance(hyperparams, Hyperparams):
            raise invalid("hyperparams", hyperparams, "a lrlab Hyperparams value (or give each by name)", where=where)
        names = {"lr": "learning_rate", "momentum": "b1" if "b1" in known else "momentum"}
        for name, s in hyperparams.items().items():
            key = names.get(name, name)
            if key in given:
                raise invalid(key, str(given[key]), "given once (the Hyperparams value has it too)", where=where)
            given[key] = s
    table = {"steps": steps, "steps_per_epoch": steps_per_epoch, "dtype": dtype}
    made: dict[str, Any] = {}
    for key, value in given.items():
        if key not in known:
            need = f"an argument of {getattr(optimizer, '__name__', optimizer)}: {known}"
            raise invalid(key, value, need, where=where)
        if isinstance(value, Schedule | str | Mapping):
            made[key] = to_optax(as_schedule(value, key, where=where), **table)
        else:
            made[key] = value
    return optax.inject_hyperparams(optimizer)(**made)
