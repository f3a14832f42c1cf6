"""Reduce-on-plateau as a controller that scales any schedule.

`Plateau` is fed one metric value per epoch and keeps ``scale``, the product
of the reductions so far. Put on top of a schedule, the rate is::

    lr = min(s, max(s * scale, min_lr))      with s = schedule(t)

so a reduction never takes the rate below ``min_lr`` and never lifts it above
the schedule (a warmup from 0 stays a warmup). With a constant schedule this
is exactly torch ``ReduceLROnPlateau``: same decisions on the same metrics,
NaN counted as a bad epoch, the same ``eps`` rule. No framework is imported.

>>> p = Plateau(patience=1, factor=0.5)
>>> [p.step(m) for m in [1.0, 1.0, 1.0, 0.5]]
[False, False, True, False]
>>> p.scale
0.5
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from lrlab.errors import invalid

__all__ = ["Plateau"]

_WHERE = "Plateau"


class Plateau:
    """Reduce the rate by ``factor`` when a metric stops improving.

    Arguments and defaults are torch ``ReduceLROnPlateau``'s: ``mode``
    (``"min"``/``"max"``), ``factor`` (0 < factor < 1), ``patience``,
    ``threshold`` with ``threshold_mode`` (``"rel"``: better than
    ``best * (1 -/+ threshold)``; ``"abs"``: better than ``best -/+ threshold``),
    ``cooldown``, ``min_lr`` and ``eps`` (a reduction smaller than ``eps`` is
    skipped; checked only when `step` is given the schedule's rate).

    ``convention="torch"`` (default) reduces when the count of bad epochs
    *exceeds* ``patience``. ``convention="keras"`` follows
    ``keras.callbacks.ReduceLROnPlateau``: reduce when the count *reaches*
    ``patience``; the cooldown is counted down before the metric is judged and
    bad epochs are not counted during it; the first metric always becomes
    ``best`` (even NaN); a reduction happens only while the rate is above
    ``min_lr``; no ``eps`` rule. Keras's ``min_delta`` is ``threshold`` with
    ``threshold_mode="abs"`` (Keras compares in float32, this in float64).
    """

    def __init__(
        self,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
        *,
        convention: str = "torch",
    ) -> None:
        self.mode = _choice("mode", mode, ("min", "max"))
        self.factor = _real("factor", factor, "a number with 0 < factor < 1", lambda x: 0.0 < x < 1.0)
        self.patience = _count("patience", patience)
        self.threshold = _real("threshold", threshold, "a finite number >= 0", lambda x: x >= 0.0)
        self.threshold_mode = _choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _count("cooldown", cooldown)
        self.min_lr = _real("min_lr", min_lr, "a finite number >= 0", lambda x: x >= 0.0)
        self.eps = _real("eps", eps, "a finite number >= 0", lambda x: x >= 0.0)
        self.convention = _choice("convention", convention, ("torch", "keras"))
        self.reset()

    def reset(self) -> None:
        """Forget the history: no best value, no bad epochs, ``scale = 1``."""
        self.best: float | None = None if self.convention == "keras" else self._worst()
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.epochs = 0
        self.reductions = 0
        self.scale = 1.0

    # -- the decision -----------------------------------------------------------
    def step(self, metric: Any, schedule_lr: float | None = None) -> bool:
        """Judge one epoch's ``metric``; True when the rate was reduced.

        ``schedule_lr`` is the schedule's rate now, before the plateau scale;
        with it the ``eps`` and ``min_lr`` rules decide, as torch does, whether
        a due reduction changes the rate. Without it every due reduction
        multiplies ``scale`` by ``factor``.
        """
        current = float(metric)
        self.epochs += 1
        if self.convention == "keras":
            return self._step_keras(current, schedule_lr)
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            return self._reduce(schedule_lr)
        return False

    def _step_keras(self, current: float, schedule_lr: float | None) -> bool:
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.best is None or self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        elif self.cooldown_counter <= 0:
            self.num_bad_epochs += 1
            if self.num_bad_epochs >= self.patience:
                if schedule_lr is not None and not self.apply(schedule_lr) > self.min_lr:
                    return False
                self.scale *= self.factor
                self.reductions += 1
                self.cooldown_counter = self.cooldown
                self.num_bad_epochs = 0
                return True
        return False

    def _reduce(self, schedule_lr: float | None) -> bool:
        if schedule_lr is not None:
            old = self.apply(schedule_lr)
            new = _scaled(float(schedule_lr), self.scale * self.factor, self.min_lr)
            if not old - new > self.eps:
                return False
        self.scale *= self.factor
        self.reductions += 1
        return True

    def _is_better(self, a: float, best: float | None) -> bool:
        assert best is not None
        if self.convention == "keras" and self.threshold_mode == "abs":
            delta = self.threshold  # Keras's own expression: (a -/+ min_delta) compared with best
            return a - delta > best if self.mode == "max" else a + delta < best
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    @property
    def in_cooldown(self) -> bool:
        """True while reductions are paused after the last one."""
        return self.cooldown_counter > 0

    # -- the rate -------------------------------------------------------------
    def apply(self, schedule_lr: float) -> float:
        """The reduced rate: ``min(s, max(s * scale, min_lr))`` for ``s = schedule_lr``."""
        return _scaled(float(schedule_lr), self.scale, self.min_lr)

    # -- checkpoints ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain Python numbers and strings."""
        return {
            "mode": self.mode,
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
            "eps": self.eps,
            "convention": self.convention,
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "epochs": self.epochs,
            "reductions": self.reductions,
            "scale": self.scale,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from `state_dict` output (settings and progress)."""
        if not isinstance(state, dict):
            raise invalid("state", state, "a dict from Plateau.state_dict()", where=_WHERE)
        settings = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps")
        needed = (*settings, "best", "num_bad_epochs", "cooldown_counter", "scale")
        missing = [k for k in needed if k not in state]
        if missing:
            raise invalid("state", sorted(state), f"a Plateau state with keys {missing}", where=_WHERE)
        fresh = Plateau(**{k: state[k] for k in settings}, convention=state.get("convention", "torch"))
        self.__dict__.update(fresh.__dict__)
        best = state["best"]
        self.best = None if best is None else float(best)
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.epochs = int(state.get("epochs", 0))
        self.reductions = int(state.get("reductions", 0))
        self.scale = float(state["scale"])

    def __repr__(self) -> str:
        return (
            f"Plateau(mode={self.mode!r}, factor={self.factor!r}, patience={self.patience!r}, "
            f"threshold={self.threshold!r}, threshold_mode={self.threshold_mode!r}, "
            f"cooldown={self.cooldown!r}, min_lr={self.min_lr!r}, eps={self.eps!r}, "
            f"convention={self.convention!r}; scale={self.scale!r})"
        )


def _scaled(s: float, scale: float, min_lr: float) -> float:
    return min(s, max(s * scale, min_lr))


def _choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise invalid(name, value, "one of " + ", ".join(repr(o) for o in options), where=_WHERE)
    return value


def _real(name: str, value: Any, requirement: str, ok: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, value, requirement, where=_WHERE)
    x = float(value)
    if not (math.isfinite(x) and ok(x)):
        raise invalid(name, value, requirement, where=_WHERE)
    return x


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise invalid(name, value, "an integer >= 0", where=_WHERE)
    return int(value)
