"""Schedules for an optimizer's other hyperparameters, beside its learning rate.

torch's ``OneCycleLR`` and ``CyclicLR`` move the momentum with the rate, and
weight-decay schedules are common in recent recipes. A `Hyperparams` value
holds the rate's schedule and, optionally, one for the momentum and one for
the weight decay, all on the same clock. ``lrlab.compat.torch.OneCycleLR``
returns one; `lrlab.torch.ScheduleLR`, `lrlab.optax.inject` and
`lrlab.keras.HyperparamCallback` take one. Framework-free: only schedules.

>>> import lrlab
>>> h = Hyperparams(lrlab.cosine(0.1, steps=10), momentum="cosine(0.85, steps=10, final_lr=0.95)")
>>> h(0), h.momentum(10)
(0.1, 0.95)
>>> h
Hyperparams(lr=lrlab.cosine(0.1, steps=10), momentum=lrlab.cosine(0.85, steps=10, final_lr=0.95))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lrlab.errors import invalid
from lrlab.schedules.base import FloatArray, Schedule, Steps
from lrlab.schedules.spec import as_schedule

__all__ = ["Hyperparams", "HYPERPARAMS"]

#: the hyperparameters a `Hyperparams` value may schedule, in order
HYPERPARAMS = ("lr", "momentum", "weight_decay")


@dataclasses.dataclass(frozen=True, slots=True)
class Hyperparams:
    """The schedules of ``lr`` and, where given, ``momentum`` and ``weight_decay``, on one clock.

    Each is a `Schedule`, a text spec or a dict spec. Calling the value gives the
    rate, ``h(t) == h.lr(t)``, so it still reads where a rate schedule did.
    """

    lr: Schedule
    momentum: Schedule | None = None
    weight_decay: Schedule | None = None

    def __post_init__(self) -> None:
        for name in HYPERPARAMS:
            value = getattr(self, name)
            if value is not None or name == "lr":
                object.__setattr__(self, name, as_schedule(value, name, where="Hyperparams"))

    def __call__(self, t: Steps) -> float | FloatArray:
        """The rate at ``t``: ``self.lr(t)``."""
        return self.lr(t)

    def items(self) -> dict[str, Schedule]:
        """The scheduled hyperparameters by name (``lr`` first), leaving out those not given."""
        return {name: s for name in HYPERPARAMS if (s := getattr(self, name)) is not None}

    def to_dict(self) -> dict[str, Any]:
        """Each given schedule's dict spec, by hyperparameter name."""
        return {name: s.to_dict() for name, s in self.items().items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hyperparams:
        """The inverse of `to_dict` (text specs are accepted too)."""
        if not isinstance(data, Mapping) or "lr" not in data or any(k not in HYPERPARAMS for k in data):
            need = f"a dict with the key 'lr' and optionally {', '.join(map(repr, HYPERPARAMS[1:]))}"
            raise invalid("data", data, need, where="Hyperparams.from_dict")
        return cls(**dict(data))

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={s!r}" for name, s in self.items().items())
        return f"Hyperparams({parts})"

    def __str__(self) -> str:
        return ", ".join(f"{name}={s}" for name, s in self.items().items())
