"""JAX / optax adapter: an lrlab schedule as an optax schedule (a function of the step count).

`to_optax` returns ``count -> rate`` that works under ``jax.jit`` and as the
``learning_rate`` of any optax optimizer. Like `lrlab.keras`, it looks the
rate up in a table of the schedule's values computed by lrlab in float64
(see `lrlab.schedules.table`): ``table[clip(count, 0, N - 1)]``. Each rate is the
schedule's own, rounded once to the table's float type: float32, or float64
when ``jax_enable_x64`` is on (then it is exactly ``schedule(count)``).

```python
import optax
from lrlab.optax import to_optax
opt = optax.adamw(to_optax("warmup(cosine(3e-4, steps=9000), steps=1000)"))
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import as_schedule
from lrlab.schedules.table import rate_table

__all__ = ["to_optax"]


def to_optax(
    schedule: Schedule | str | Mapping[str, Any],
    *,
    steps: int | None = None,
    steps_per_epoch: int | None = None,
    dtype: Any = None,
) -> Callable[[Any], Any]:
    """``count -> schedule(count / steps_per_epoch)``, traceable, held after the table's end.

    ``steps`` is the number of updates to tabulate; it is needed only for a
    schedule that never settles to a final value (exponential, cyclic,
    restarts), and the rate is held after it. ``dtype`` defaults to JAX's
    default float (float32, or float64 under ``jax_enable_x64``) at the time
    of this call.
    """
    schedule = as_schedule(schedule, where="to_optax")
    values = rate_table(schedule, steps, steps_per_epoch, where="to_optax")
    float_type = jnp.asarray(0.0).dtype if dtype is None else jnp.dtype(dtype)
    table: Any = jnp.asarray(values, dtype=float_type)
    if isinstance(table, jax.core.Tracer):  # called inside a traced function: do not keep a tracer
        table = values.astype(float_type)
    last = int(values.shape[0]) - 1

    def rate(count: Any) -> Any:
        index = jnp.clip(jnp.asarray(count).astype(jnp.int32), 0, last)
        return jnp.asarray(table)[index]

    rate.__doc__ = f"lrlab schedule {schedule} ({last + 1} tabulated updates)"
    return rate
