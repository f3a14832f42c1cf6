"""PyTorch adapter: any lrlab schedule as a ``torch.optim.lr_scheduler.LRScheduler``.

`ScheduleLR` evaluates the schedule's closed form; it keeps only the step
counter (``last_epoch``) and the optimizer's initial rates, as torch's own
schedulers do, and its state is plain data (the schedule's text spec), so
``torch.load(path, weights_only=True)`` reads a checkpoint back. It can
schedule the momentum and the weight decay beside the rate (``momentum=``,
``weight_decay=``, or a `Hyperparams` value such as
``lrlab.compat.torch.OneCycleLR(...)`` returns).

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
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from lrlab.errors import LrlabError, invalid
from lrlab.frameworks.hyperparams import Hyperparams
from lrlab.frameworks.plateau import Plateau
from lrlab.schedules.base import Schedule, optional_count
from lrlab.schedules.spec import as_schedule
from lrlab.schedules.units import bind_if_needed

__all__ = ["ScheduleLR", "Hyperparams", "as_schedule"]

_STATE_VERSION = 2
_BLOCK = 128
_LOAD = "ScheduleLR.load_state_dict"
#: the hyperparameters scheduled beside the rate, in the order of their columns
_HYPER = ("momentum", "weight_decay")

SpecLike = Schedule | str | Mapping[str, Any]


def _schedule_list(value: Any, n_groups: int, name: str, where: str) -> tuple[list[Schedule], bool]:
    """One schedule (shared: True) or one per param group (shared: False), each checked."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = [as_schedule(s, f"{name}[{i}]", where=where) for i, s in enumerate(value)]
        if len(items) != n_groups:
            need = f"one schedule or a list of {n_groups} (one per param group)"
            raise invalid(name, [str(s) for s in items], need, where=where)
        return items, False
    return [as_schedule(value, name, where=where)], True


class ScheduleLR(LRScheduler):
    """Set each param group's rate from an lrlab schedule; call `step` after ``optimizer.step()``.

    The rate of group ``g`` after ``n`` calls of `step` (``n = last_epoch``) is::

        schedule(t) * initial_lr_g / initial_lr_0        t = n   (or n / steps_per_epoch)

    so group 0 follows the schedule exactly and other groups keep their ratio
    to it, as when ``LambdaLR`` multiplies each group's initial rate. Pass a
    list with one schedule per group to give each its own rates instead
    (``schedule_g(t)``, no ratio). ``steps_per_epoch`` makes an epoch-defined
    schedule advance by fractional epochs when `step` is called per batch.

    A schedule with times in units (``warmup(cosine(0.1, steps="90ep"), steps="500ba")``)
    is bound (`lrlab.bind`) to the clock ``per`` names: ``per="step"`` when `step`
    is called after every update, ``per="epoch"`` after every epoch, with
    ``steps_per_epoch=`` and ``epochs=`` as its units need; then ``t = n``
    (``steps_per_epoch`` only binds). Without ``per``, units are bound per epoch
    and need ``steps_per_epoch`` (fractional epochs, as above).

    ``momentum=`` and ``weight_decay=`` schedule those hyperparameters on the
    same clock, as absolute values (as torch's ``OneCycleLR`` sets the
    momentum): ``momentum(t)`` goes to SGD's ``momentum``, or to ``betas[0]``
    when the optimizer has ``betas`` (Adam, AdamW, ...), the way torch
    chooses; ``weight_decay(t)`` goes to every group's ``weight_decay``
    except a group built with ``weight_decay=0`` (the usual no-decay group of
    biases and norms), which keeps 0. A list gives one schedule per group
    instead (then every group follows its own). A `Hyperparams` value as
    ``schedule`` brings its ``lr``, ``momentum`` and ``weight_decay`` at once.

    Right after construction the optimizer holds the values at ``t = 0``.
    With ``plateau=`` a `lrlab.plateau.Plateau` scales the rates (not the
    momentum or weight decay): ``min(r, max(r * plateau.scale, plateau.min_lr))``;
    feed it the epoch's metric with `step_metric`. One scale serves all
    groups, so torch's ``eps`` rule is judged on group 0's rate (torch judges
    each group on its own).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: SpecLike | Sequence[SpecLike] | Hyperparams,
        *,
        momentum: SpecLike | Sequence[SpecLike] | None = None,
        weight_decay: SpecLike | Sequence[SpecLike] | None = None,
        steps_per_epoch: int | None = None,
        plateau: Plateau | None = None,
        last_epoch: int = -1,
        per: str | None = None,
        epochs: int | None = None,
    ) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(optimizer, torch.optim.Optimizer) or not groups:
            raise invalid("optimizer", optimizer, "a torch.optim.Optimizer", where="ScheduleLR")
        if isinstance(schedule, Hyperparams):
            for name, given in (("momentum", momentum), ("weight_decay", weight_decay)):
                if given is not None and getattr(schedule, name) is not None:
                    need = "None when the schedule is a Hyperparams value that has one"
                    raise invalid(name, str(given), need, where="ScheduleLR")
            momentum = schedule.momentum if momentum is None else momentum
            weight_decay = schedule.weight_decay if weight_decay is None else weight_decay
            schedule = schedule.lr
        self.schedules, self.shared = _schedule_list(schedule, len(groups), "schedule", "ScheduleLR")
        given = {"momentum": momentum, "weight_decay": weight_decay}
        self.hyper: dict[str, tuple[list[Schedule], bool]] = {
            name: _schedule_list(value, len(groups), name, "ScheduleLR")
            for name, value in given.items()
            if value is not None
        }
        self._momentum_key = _momentum_key(optimizer) if "momentum" in self.hyper else None
        if "weight_decay" in self.hyper and "weight_decay" not in optimizer.defaults:
            need = "an optimizer with a weight_decay argument to schedule weight_decay"
            raise invalid("optimizer", type(optimizer).__name__, need, where="ScheduleLR")
        # which groups a shared weight-decay schedule drives: those built with a non-zero weight_decay
        self._decayed = [_value(g.get("weight_decay", 0.0)) != 0 for g in groups]
        self.steps_per_epoch = optional_count("ScheduleLR", "steps_per_epoch", steps_per_epoch)

        # times with units ("500ba", "90ep", "0.2dur") bound to the clock of step() (see the class docstring)
        def bound(s: Schedule) -> Schedule:
            return bind_if_needed(s, per=per, steps_per_epoch=self.steps_per_epoch, epochs=epochs, where="ScheduleLR")

        self.schedules = [bound(s) for s in self.schedules]
        self.hyper = {k: ([bound(s) for s in v], shared) for k, (v, shared) in self.hyper.items()}
        if per is not None:
            self.steps_per_epoch = None  # one step() is one `per`: steps_per_epoch served only to bind
        if plateau is not None and not isinstance(plateau, Plateau):
            raise invalid("plateau", plateau, "a lrlab.plateau.Plateau or None", where="ScheduleLR")
        self.plateau = plateau
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise invalid("last_epoch", last_epoch, "an integer >= -1", where="ScheduleLR")
        self._ratios: list[float] | None = None
        self._reset_block()
        super().__init__(optimizer, int(last_epoch))

    def _reset_block(self) -> None:
        self._block: list[tuple[float, ...]] = []
        self._block_start = 0

    @property
    def schedule(self) -> Schedule:
        """The (first) schedule."""
        return self.schedules[0]

    @property
    def momentum(self) -> list[Schedule] | None:
        """The momentum schedule(s) (one, or one per group), or None."""
        return self.hyper["momentum"][0] if "momentum" in self.hyper else None

    @property
    def weight_decay(self) -> list[Schedule] | None:
        """The weight-decay schedule(s) (one, or one per group), or None."""
        return self.hyper["weight_decay"][0] if "weight_decay" in self.hyper else None

    # -- the rates ----------------------------------------------------------------
    @property
    def t(self) -> float:
        """The schedule's clock: ``last_epoch``, or ``last_epoch / steps_per_epoch``."""
        n = self.last_epoch
        return n if self.steps_per_epoch is None else n / self.steps_per_epoch

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The rates for the current ``last_epoch`` (a closed form; no warning, no state)."""
        values = self._row(self.last_epoch)
        if self.plateau is None and self.shared and self._ratios == [1.0]:
            return [values[0]]  # the common case, one group: step() stays as cheap as torch's own
        if self.shared:
            if self._ratios is None:
                self._ratios = self._compute_ratios()
            base = values[0]
            rates = [base * r for r in self._ratios]
        else:
            rates = list(values[: len(self.schedules)])
        if self.plateau is not None:
            rates = [self.plateau.apply(r) for r in rates]
        return rates

    def _row(self, n: int) -> tuple[float, ...]:
        """Every schedule's value at step ``n``: the rates' columns, then momentum's, then weight decay's."""
        i = n - self._block_start
        if not 0 <= i < len(self._block):
            self._fill_block(n)
            i = 0
        return self._block[i]

    def _fill_block(self, n: int) -> None:
        # One vectorised call per _BLOCK steps keeps step() cheap; the values are
        # the same as the scalar calls schedule(t) (same elementwise formulas).
        counts = np.arange(n, n + _BLOCK, dtype=np.float64)
        t = counts if self.steps_per_epoch is None else counts / self.steps_per_epoch
        every = [*self.schedules, *(s for name in _HYPER if name in self.hyper for s in self.hyper[name][0])]
        columns = [s(t).tolist() for s in every]
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

    def _update_lr(self, epoch: int | None = None) -> None:
        # torch's own path (the first step, a jump, torch's SequentialLR): the rates, then the rest
        super()._update_lr(epoch)
        self._apply_hyper()

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
        self._apply_hyper()

    def _apply_hyper(self) -> None:
        """Set the scheduled momentum and weight decay of every group for the current step."""
        if not self.hyper:
            return
        row = self._row(self.last_epoch)
        column = len(self.schedules)
        groups = self.optimizer.param_groups
        for name in _HYPER:
            if name not in self.hyper:
                continue
            schedules, shared = self.hyper[name]
            values = row[column : column + len(schedules)]
            column += len(schedules)
            for g, group in enumerate(groups):
                value = values[0] if shared else values[g]
                if name == "weight_decay":
                    if shared and not self._decayed[g]:
                        continue
                    _set(group, "weight_decay", value)
                elif self._momentum_key == "betas":
                    betas = group["betas"]
                    if isinstance(betas[0], torch.Tensor):
                        betas[0].fill_(value)
                    else:
                        group["betas"] = (value, *betas[1:])
                else:
                    _set(group, "momentum", value)

    # -- checkpoints ----------------------------------------------------------------
    def _specs(self) -> dict[str, Any]:
        def spec(schedules: list[Schedule], shared: bool) -> str | list[str]:
            return str(schedules[0]) if shared else [str(s) for s in schedules]

        out: dict[str, Any] = {"schedule": spec(self.schedules, self.shared)}
        for name in _HYPER:
            out[name] = spec(*self.hyper[name]) if name in self.hyper else None
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the schedule specs, the counter, the initial rates, the plateau."""
        return {
            "version": _STATE_VERSION,
            **self._specs(),
            "weight_decay_groups": list(self._decayed),
            "steps_per_epoch": self.steps_per_epoch,
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "base_lrs": [float(b) for b in self.base_lrs],
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any], *, strict: bool = False) -> None:
        """Resume from `state_dict` output and set the optimizer's values for the restored step.

        Every entry is checked before anything changes: a bad state raises a
        `lrlab.ScheduleError` naming the key and its value and leaves the
        scheduler as it was. A state made with other schedules than this
        scheduler's is loaded with a warning naming both (the state's
        schedules are used), or refused with ``strict=True``.
        """
        loaded = _check_state(state_dict, self.optimizer)
        mine, theirs = self._specs(), {name: loaded["specs"][name] for name in ("schedule", *_HYPER)}
        if _parsed(mine) != _parsed(theirs):
            message = f"the state was made with {_describe(theirs)}; this scheduler has {_describe(mine)}"
            if strict:
                raise invalid(
                    "state_dict", _describe(theirs), f"made with this scheduler's schedules ({message})", where=_LOAD
                )
            warnings.warn(f"{_LOAD}: {message}; resuming with the state's", UserWarning, stacklevel=2)
        if loaded["hyper"].get("momentum") is not None and self._momentum_key is None:
            self._momentum_key = _momentum_key(self.optimizer)
        self.schedules, self.shared = loaded["schedules"]
        self.hyper = {name: value for name, value in loaded["hyper"].items() if value is not None}
        if loaded["weight_decay_groups"] is not None:
            self._decayed = loaded["weight_decay_groups"]
        self.steps_per_epoch = loaded["steps_per_epoch"]
        self.last_epoch = loaded["last_epoch"]
        self._step_count = loaded["_step_count"]
        if loaded["base_lrs"] is not None:
            self.base_lrs = loaded["base_lrs"]
        if loaded["plateau"] is not None:
            self.plateau = loaded["plateau"]
        self._ratios = None
        self._reset_block()
        self._apply(self.get_lr())


def _momentum_key(optimizer: torch.optim.Optimizer) -> str:
    """``"betas"`` (Adam-like: ``betas[0]``) or ``"momentum"`` (SGD, RMSprop), chosen as torch chooses."""
    if "betas" in optimizer.defaults:
        return "betas"
    if "momentum" in optimizer.defaults:
        return "momentum"
    need = "an optimizer with momentum or betas to schedule momentum"
    raise invalid("optimizer", type(optimizer).__name__, need, where="ScheduleLR")


def _value(x: Any) -> float:
    return float(x.item()) if isinstance(x, torch.Tensor) else float(x)


def _set(group: dict[str, Any], key: str, value: float) -> None:
    if isinstance(group[key], torch.Tensor):
        group[key].fill_(value)
    else:
        group[key] = value


def _parsed(specs: Mapping[str, Any]) -> dict[str, Any]:
    """The specs as schedules, to compare two states by meaning rather than by text."""

    def one(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return tuple(as_schedule(v) for v in value)
        return as_schedule(value)

    return {name: one(value) for name, value in specs.items()}


def _describe(specs: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in specs.items() if value is not None)


def _check_state(state: Any, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Every entry of a saved state, checked and converted; raises before anything is changed."""

    def bad(key: str, value: Any, requirement: str) -> LrlabError:
        return invalid(f"state_dict[{key!r}]", value, requirement, where=_LOAD)

    if not isinstance(state, Mapping):
        raise invalid("state_dict", state, "a dict from ScheduleLR.state_dict()", where=_LOAD)
    for key in ("version", "schedule", "last_epoch"):
        if key not in state:
            raise bad(key, None, f"present (a dict from ScheduleLR.state_dict() has it; keys given: {sorted(state)})")
    version = state["version"]
    if isinstance(version, bool) or version not in (1, _STATE_VERSION):
        raise bad("version", version, f"1 or {_STATE_VERSION} (a state from this or an earlier lrlab)")
    n_groups = len(optimizer.param_groups)
    out: dict[str, Any] = {"specs": {}, "hyper": {}}

    def schedules(key: str) -> tuple[list[Schedule], bool] | None:
        value = state.get(key)
        out["specs"][key] = value
        if value is None and key != "schedule":
            return None
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            raise bad(key, value, "a text spec or a list of text specs")
        try:
            return _schedule_list(value, n_groups, f"state_dict[{key!r}]", _LOAD)
        except LrlabError as exc:
            raise bad(key, value, f"a valid spec for this optimizer's {n_groups} param group(s) ({exc})") from None

    out["schedules"] = schedules("schedule")
    for name in _HYPER:
        out["hyper"][name] = schedules(name)

    def count(key: str, low: int, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise bad(key, value, f"an integer >= {low}")
        return int(value)

    out["last_epoch"] = count("last_epoch", 0, state["last_epoch"])
    out["_step_count"] = count("_step_count", 1, state.get("_step_count", out["last_epoch"] + 1))
    spe = state.get("steps_per_epoch")
    out["steps_per_epoch"] = None if spe is None else count("steps_per_epoch", 1, spe)

    base = state.get("base_lrs")
    if base is not None:
        ok = isinstance(base, list) and len(base) == n_groups
        ok = ok and all(isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in base)
        ok = ok and all(b >= 0 for b in base)
        if not ok:
            raise bad("base_lrs", base, f"a list of {n_groups} finite rates >= 0 (one per param group)")
        base = [float(b) for b in base]
    out["base_lrs"] = base

    decayed = state.get("weight_decay_groups")
    if decayed is not None and not (
        isinstance(decayed, list) and len(decayed) == n_groups and all(isinstance(d, bool) for d in decayed)
    ):
        raise bad("weight_decay_groups", decayed, f"a list of {n_groups} booleans (one per param group)")
    out["weight_decay_groups"] = None if decayed is None else list(decayed)

    saved = state.get("plateau")
    plateau = None
    if saved is not None:
        plateau = Plateau()
        try:
            plateau.load_state_dict(dict(saved) if isinstance(saved, Mapping) else saved)
        except (LrlabError, TypeError, ValueError) as exc:
            raise bad("plateau", saved, f"a Plateau state ({exc})") from None
    out["plateau"] = plateau
    return out
