"""PyTorch adapter: any lrlab schedule as a ``torch.optim.lr_scheduler.LRScheduler``.

`ScheduleLR` evaluates the schedule's closed form; it keeps only the step
counter (``last_epoch``) and the optimizer's initial rates, as torch's own
schedulers do, and its state is plain data (the schedule's text spec), so
``torch.load(path, weights_only=True)`` reads a checkpoint back.

```python
opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = ScheduleLR(opt, "warmup(cosine(0.1, steps=90), steps=5)")
for epoch in range(95):
    train_one_epoch(model, opt)
    sched.step()
```
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from lrlab.errors import invalid
from lrlab.frameworks.plateau import Plateau
from lrlab.schedules.base import Schedule, optional_count
from lrlab.schedules.spec import as_schedule

__all__ = ["ScheduleLR", "as_schedule"]

_STATE_VERSION = 1
_BLOCK = 128


class ScheduleLR(LRScheduler):
    """Set each param group's rate from an lrlab schedule; call `step` after ``optimizer.step()``.

    The rate of group ``g`` after ``n`` calls of `step` (``n = last_epoch``) is::

        schedule(t) * initial_lr_g / initial_lr_0        t = n   (or n / steps_per_epoch)

    so group 0 follows the schedule exactly and other groups keep their ratio
    to it, as when ``LambdaLR`` multiplies each group's initial rate. Pass a
    list with one schedule per group to give each its own rates instead
    (``schedule_g(t)``, no ratio). ``steps_per_epoch`` makes an epoch-defined
    schedule advance by fractional epochs when `step` is called per batch.

    Right after construction the optimizer holds the rates at ``t = 0``.
    With ``plateau=`` a `lrlab.plateau.Plateau` scales the rates:
    ``min(r, max(r * plateau.scale, plateau.min_lr))``; feed it the epoch's
    metric with `step_metric`. One scale serves all groups, so torch's ``eps``
    rule is judged on group 0's rate (torch judges each group on its own).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | str | Mapping[str, Any] | Sequence[Schedule | str | Mapping[str, Any]],
        *,
        steps_per_epoch: int | None = None,
        plateau: Plateau | None = None,
        last_epoch: int = -1,
    ) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(optimizer, torch.optim.Optimizer) or not groups:
            raise invalid("optimizer", optimizer, "a torch.optim.Optimizer", where="ScheduleLR")
        self._set_schedules(schedule, len(groups))
        self.steps_per_epoch = optional_count("ScheduleLR", "steps_per_epoch", steps_per_epoch)
        if plateau is not None and not isinstance(plateau, Plateau):
            raise invalid("plateau", plateau, "a lrlab.plateau.Plateau or None", where="ScheduleLR")
        self.plateau = plateau
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise invalid("last_epoch", last_epoch, "an integer >= -1", where="ScheduleLR")
        self._ratios: list[float] | None = None
        self._reset_block()
        super().__init__(optimizer, int(last_epoch))

    def _set_schedules(self, schedule: Any, n_groups: int) -> None:
        if isinstance(schedule, Sequence) and not isinstance(schedule, str):
            items = [as_schedule(s, f"schedule[{i}]", where="ScheduleLR") for i, s in enumerate(schedule)]
            if len(items) != n_groups:
                raise invalid(
                    "schedule",
                    [str(s) for s in items],
                    f"one schedule or a list of {n_groups} (one per param group)",
                    where="ScheduleLR",
                )
            self.schedules: list[Schedule] = items
            self.shared = False
        else:
            self.schedules = [as_schedule(schedule, where="ScheduleLR")]
            self.shared = True

    def _reset_block(self) -> None:
        self._block: list[tuple[float, ...]] = []
        self._block_start = 0

    @property
    def schedule(self) -> Schedule:
        """The (first) schedule."""
        return self.schedules[0]

    # -- the rates ----------------------------------------------------------------
    @property
    def t(self) -> float:
        """The schedule's clock: ``last_epoch``, or ``last_epoch / steps_per_epoch``."""
        n = self.last_epoch
        return n if self.steps_per_epoch is None else n / self.steps_per_epoch

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The rates for the current ``last_epoch`` (a closed form; no warning, no state)."""
        n = self.last_epoch
        i = n - self._block_start
        if not 0 <= i < len(self._block):
            self._fill_block(n)
            i = 0
        values = self._block[i]
        if self.plateau is None and len(values) == 1 and self._ratios == [1.0]:
            return [values[0]]  # the common case, one group: step() stays as cheap as torch's own
        if self.shared:
            if self._ratios is None:
                self._ratios = self._compute_ratios()
            base = values[0]
            rates = [base * r for r in self._ratios]
        else:
            rates = list(values)
        if self.plateau is not None:
            rates = [self.plateau.apply(r) for r in rates]
        return rates

    def _fill_block(self, n: int) -> None:
        # One vectorised call per _BLOCK steps keeps step() cheap; the values are
        # the same as the scalar calls schedule(t) (same elementwise formulas).
        counts = np.arange(n, n + _BLOCK, dtype=np.float64)
        t = counts if self.steps_per_epoch is None else counts / self.steps_per_epoch
        columns = [s(t).tolist() for s in self.schedules]
        self._block = list(zip(*columns, strict=True))
        self._block_start = n

    _get_closed_form_lr = get_lr

    def _compute_ratios(self) -> list[float]:
        initial = [float(b) for b in self.base_lrs]
        first = initial[0]
        if len(initial) == 1:
            return [1.0]
        if not (math.isfinite(first) and first > 0):
            raise invalid(
                "param_groups[0]['lr']",
                first,
                "> 0 to share one schedule between groups (or pass one schedule per group)",
                where="ScheduleLR",
            )
        return [b / first for b in initial]

    def step(self, epoch: int | None = None) -> None:
        """Advance the clock by one update (or jump to ``epoch``) and set the rates."""
        if epoch is None and self._step_count > 1:
            # torch's step() less what only its first call needs (the optimizer-order warnings)
            self._step_count += 1
            self.last_epoch += 1
            self._apply(self.get_lr())
            return
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0):
            raise invalid("epoch", epoch, "an integer >= 0 (feed a metric with step_metric)", where="ScheduleLR.step")
        super().step(epoch)

    def step_metric(self, metric: Any) -> bool:
        """Feed one epoch's metric to the plateau; a reduction applies at once. True when reduced."""
        if self.plateau is None:
            raise invalid("plateau", None, "a Plateau (pass plateau= to ScheduleLR)", where="step_metric")
        reduced = self.plateau.step(metric, self.schedules[0](self.t))
        if reduced:
            self._apply(self.get_lr())
        return reduced

    def _apply(self, rates: list[float]) -> None:
        groups = self.optimizer.param_groups
        last: list[Any] = []
        for group, lr in zip(groups, rates, strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
                last.append(group["lr"].clone())
            else:
                group["lr"] = lr
                last.append(lr)
        self._last_lr = last

    # -- checkpoints ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data: the schedule spec(s), the counter, the initial rates, the plateau."""
        return {
            "version": _STATE_VERSION,
            "schedule": str(self.schedules[0]) if self.shared else [str(s) for s in self.schedules],
            "steps_per_epoch": self.steps_per_epoch,
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "base_lrs": [float(b) for b in self.base_lrs],
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from `state_dict` output and set the optimizer's rates for the restored step."""
        keys = ("schedule", "last_epoch")
        if not isinstance(state_dict, Mapping) or any(k not in state_dict for k in keys):
            raise invalid("state_dict", state_dict, "a dict from ScheduleLR.state_dict()", where="ScheduleLR")
        self._set_schedules(state_dict["schedule"], len(self.optimizer.param_groups))
        self.steps_per_epoch = optional_count("ScheduleLR", "steps_per_epoch", state_dict.get("steps_per_epoch"))
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict.get("_step_count", self.last_epoch + 1))
        if "base_lrs" in state_dict:
            self.base_lrs = [float(b) for b in state_dict["base_lrs"]]
        self._ratios = None
        self._reset_block()
        saved = state_dict.get("plateau")
        if saved is not None:
            if self.plateau is None:
                self.plateau = Plateau()
            self.plateau.load_state_dict(dict(saved))
        self._apply(self.get_lr())
