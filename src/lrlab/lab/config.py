"""The training options every run of a job shares, as one torch-free value.

`TrainConfig` is read by the trainer, the command line, the presets and the
sweeps alike, so each default lives here once:

* ``experiment`` -- which experiment (a built-in name such as
  ``"fashion-mnist-lenet"``, ``"package.module:factory"`` or a ``.py`` path);
* ``epochs``, ``batch_size``;
* ``per`` -- what one unit of a schedule's clock is: ``"epoch"`` (epoch ``e``,
  from 0, trains at ``schedule(e)``) or ``"step"`` (update ``t`` at ``schedule(t)``);
* ``optimizer`` -- an `OptimizerSpec` such as ``sgd(momentum=0.9, nesterov=True)``
  or ``adamw(weight_decay=0.05)``; None keeps the experiment's own. A run may
  name its own (`run_spec`: ``"warmup(constant(0.1), steps=2) @ schedulefree_sgd"``).

>>> TrainConfig.from_dict({"epochs": 5, "optimizer": "sgd(momentum=0.9)"}).optimizer
OptimizerSpec('sgd(momentum=0.9)')
>>> TrainConfig.from_dict({"epoch": 5})
Traceback (most recent call last):
...
lrlab.errors.TrainError: training config has no option 'epoch'; did you mean 'epochs'?
"""

from __future__ import annotations

import ast
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lrlab.errors import TrainError, closest_names, invalid

__all__ = [
    "DEFAULT_EXPERIMENT",
    "OPTIMIZERS",
    "PER",
    "SCHEDULEFREE_INSTALL",
    "OptimizerSpec",
    "TrainConfig",
    "run_spec",
]

PER = ("epoch", "step")
#: the float types a job's forward passes may run in: float32, or bfloat16 under torch's autocast (opt-in)
PRECISIONS = ("float32", "bfloat16")
DEFAULT_EXPERIMENT = "fashion-mnist-lenet"

#: the optimizers known by name, with their library's defaults for each option (torch's, schedulefree's)
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd": {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "adamw": {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False},
    "adam": {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    # schedule-free (Defazio et al. 2024, the `schedulefree` package); its own warmup is off: the schedule warms up
    "schedulefree_sgd": {"momentum": 0.9, "weight_decay": 0.0, "r": 0.0, "weight_lr_power": 2.0},
    "schedulefree_adamw": {
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    },
}
#: each optimizer's module and class
_CLASSES = {
    "sgd": ("torch.optim", "SGD"),
    "adamw": ("torch.optim", "AdamW"),
    "adam": ("torch.optim", "Adam"),
    "schedulefree_sgd": ("schedulefree", "SGDScheduleFree"),
    "schedulefree_adamw": ("schedulefree", "AdamWScheduleFree"),
}
#: how to get the optional package of the schedule-free optimizers
SCHEDULEFREE_INSTALL = "pip install 'lrlab[schedulefree]'"


def _bad(name: str, value: Any, requirement: str, where: str) -> TrainError:
    error = invalid(name, value, requirement, where=where, error=TrainError)
    assert isinstance(error, TrainError)
    return error


@dataclass(frozen=True, init=False)
class OptimizerSpec:
    """An optimizer by name and options, written like a call: ``sgd(momentum=0.9, nesterov=True)``.

    ``name`` is one of `OPTIMIZERS`; ``options`` holds only the options that
    differ from the library's defaults, so ``sgd`` and ``sgd(momentum=0.0)`` are
    the same spec. The learning rate is not an option: the schedule sets it,
    for the schedule-free optimizers too (built with ``warmup_steps=0``).

    >>> OptimizerSpec.parse("schedulefree_sgd(momentum=0.95)").describe()
    'schedule-free SGD (momentum 0.95)'
    """

    name: str
    options: tuple[tuple[str, Any], ...]

    def __init__(self, name: str = "sgd", **options: Any) -> None:
        where = "optimizer"
        if name not in OPTIMIZERS:
            raise _bad("optimizer", name, "one of " + ", ".join(repr(n) for n in OPTIMIZERS), "")
        defaults = OPTIMIZERS[name]
        kept: dict[str, Any] = {}
        for key, value in options.items():
            if key not in defaults:
                raise TrainError(f"{where}: {name}() has no option {key!r}; {closest_names(key, defaults)}")
            value = _checked(name, key, value)
            if value != defaults[key]:
                kept[key] = value
        if name == "sgd" and kept.get("nesterov") and (kept.get("momentum", 0.0) <= 0 or kept.get("dampening", 0.0)):
            raise _bad("nesterov", True, "used with momentum > 0 and dampening = 0", f"{where}: sgd()")
        # schedule-free evaluates at x = y + (1/beta - 1)(y - z): its momentum (beta1) must be in (0, 1)
        if name == "schedulefree_sgd" and kept.get("momentum", 0.9) == 0.0:
            raise _bad("momentum", 0.0, "in (0, 1): schedule-free's interpolation needs it", f"{where}: {name}()")
        if name == "schedulefree_adamw" and kept.get("betas", (0.9, 0.999))[0] == 0.0:
            raise _bad("betas[0]", 0.0, "in (0, 1): schedule-free's interpolation needs it", f"{where}: {name}()")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "options", tuple(sorted(kept.items())))

    @classmethod
    def parse(cls, text: str | OptimizerSpec | Mapping[str, Any]) -> OptimizerSpec:
        """From ``"adamw(weight_decay=0.05)"``, ``"sgd"`` or ``{"name": "sgd", "momentum": 0.9}``."""
        if isinstance(text, OptimizerSpec):
            return text
        if isinstance(text, Mapping):
            data = dict(text)
            return cls(str(data.pop("name", "sgd")), **data)
        if not isinstance(text, str) or not text.strip():
            raise _bad("optimizer", text, "a name or call such as 'sgd(momentum=0.9)'", "")
        try:
            node = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            raise _bad("optimizer", text, "a name or call such as 'sgd(momentum=0.9)'", "") from None
        if isinstance(node, ast.Name):
            return cls(node.id)
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
            raise _bad("optimizer", text, "a name or a call with keyword options, e.g. 'sgd(momentum=0.9)'", "")
        options: dict[str, Any] = {}
        for kw in node.keywords:
            try:
                options[str(kw.arg)] = ast.literal_eval(kw.value)
            except ValueError:
                raise _bad(str(kw.arg), ast.unparse(kw.value), "a number, True/False or a list", "optimizer") from None
        return cls(node.func.id, **options)

    @property
    def kwargs(self) -> dict[str, Any]:
        """Every option, torch's defaults filled in: the keyword arguments of the torch optimizer."""
        return {**OPTIMIZERS[self.name], **dict(self.options)}

    @property
    def torch_name(self) -> str:
        """The optimizer's class: ``SGD``, ``AdamW``, ``Adam`` (``torch.optim``), ``SGDScheduleFree``, ..."""
        return _CLASSES[self.name][1]

    @property
    def module(self) -> str:
        """The module of its class: ``torch.optim`` or ``schedulefree`` (an optional extra)."""
        return _CLASSES[self.name][0]

    @property
    def schedule_free(self) -> bool:
        """Whether it is schedule-free: it steps at y and is evaluated at the average x (``.train()``/``.eval()``)."""
        return self.module == "schedulefree"

    def describe(self) -> str:
        """For people: ``SGD (no momentum, no weight decay)``, ``AdamW (weight_decay 0.05)``."""
        opts = dict(self.options)
        if self.name == "sgd" and not opts:
            return "SGD (no momentum, no weight decay)"
        shown = ", ".join(f"{k} {_text(v)}" for k, v in self.options)
        if self.schedule_free:  # its momentum (or beta1) always shown: it decides the interpolation
            base = "schedule-free " + {"SGDScheduleFree": "SGD", "AdamWScheduleFree": "AdamW"}[self.torch_name]
            key = "momentum" if self.name == "schedulefree_sgd" else "betas"
            kept = [(key, self.kwargs[key])] + [(k, v) for k, v in self.options if k != key]
            return f"{base} ({', '.join(f'{k} {_text(v)}' for k, v in kept)})"
        return f"{self.torch_name} ({shown})" if shown else f"{self.torch_name} (torch's defaults)"

    def __str__(self) -> str:
        if not self.options:
            return self.name
        return f"{self.name}({', '.join(f'{k}={_text(v)}' for k, v in self.options)})"

    def __repr__(self) -> str:
        return f"OptimizerSpec({str(self)!r})"


_LABEL = re.compile(r"\s*([^=()\[\]@,'\"]+?)\s*=(?!=)\s*(.+)", re.DOTALL)


def run_spec(text: str) -> tuple[str, str, OptimizerSpec | None]:
    """``[LABEL=]SCHEDULE[ @ OPTIMIZER]`` as ``(label, schedule text, optimizer)``: a run of a compare in one string.

    The optimizer after ``@`` is the run's own, in place of the job's (e.g. a
    schedule-free baseline beside scheduled runs); the label names the run in
    tables ("" when not given).

    >>> run_spec("schedule-free=warmup(constant(0.1), steps=2) @ schedulefree_sgd(momentum=0.9)")
    ('schedule-free', 'warmup(constant(0.1), steps=2)', OptimizerSpec('schedulefree_sgd'))
    >>> run_spec("cosine(0.1, steps=30)")
    ('', 'cosine(0.1, steps=30)', None)
    """
    if not isinstance(text, str) or not text.strip():
        raise _bad(
            "spec", text, "a schedule such as 'cosine(0.1, steps=30)', optionally 'LABEL=' and '@ OPTIMIZER'", ""
        )
    label, rest = "", text.strip()
    match = _LABEL.fullmatch(rest)
    if match:
        label, rest = match.group(1).strip(), match.group(2).strip()
    if "@" not in rest:
        return label, rest, None
    try:
        node = ast.parse(rest, mode="eval").body
    except SyntaxError:
        return label, rest, None  # not ours to explain: parsing the schedule says what is wrong
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)) or isinstance(node.left, ast.BinOp):
        return label, rest, None
    schedule, optimizer = ast.get_source_segment(rest, node.left), ast.get_source_segment(rest, node.right)
    assert schedule is not None and optimizer is not None
    return label, schedule.strip(), OptimizerSpec.parse(optimizer.strip())


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return repr(value)


def _checked(optimizer: str, key: str, value: Any) -> Any:
    where = f"optimizer: {optimizer}()"
    if key in ("nesterov", "amsgrad"):
        if not isinstance(value, bool):
            raise _bad(key, value, "True or False", where)
        return value
    if key == "betas":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _bad(key, value, "two numbers in [0, 1)", where)
        return tuple(_number(where, f"{key}[{i}]", v, below=1.0) for i, v in enumerate(value))
    number = _number(where, key, value, below=1.0 if (key, optimizer) == ("momentum", "schedulefree_sgd") else math.inf)
    if key == "eps" and number == 0:
        raise _bad(key, value, "> 0", where)
    return number


def _number(where: str, name: str, value: Any, *, below: float = math.inf) -> float:
    """A finite number in ``[0, below)``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if not ok or not 0.0 <= float(value) < below:
        bound = ">= 0" if below == math.inf else f"in [0, {below:g})"
        raise _bad(name, value, f"a finite number {bound}", where)
    return float(value)


@dataclass(frozen=True)
class TrainConfig:
    """What every run of a job shares; these options decide the numbers (see the module docstring)."""

    experiment: str = DEFAULT_EXPERIMENT
    epochs: int = 30
    batch_size: int = 256
    per: str = "epoch"
    optimizer: OptimizerSpec | None = field(default=None)
    precision: str = "float32"

    def __post_init__(self) -> None:
        where = "training config"
        if not isinstance(self.experiment, str) or not self.experiment.strip():
            raise _bad("experiment", self.experiment, "a name such as 'fashion-mnist-lenet'", where)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise _bad(name, value, "an integer > 0", where)
            object.__setattr__(self, name, int(value))
        if self.per not in PER:
            raise _bad("per", self.per, "'epoch' or 'step'", where)
        if self.precision not in PRECISIONS:
            raise _bad("precision", self.precision, "'float32' or 'bfloat16'", where)
        if self.optimizer is not None:
            object.__setattr__(self, "optimizer", OptimizerSpec.parse(self.optimizer))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The config of `to_dict` output, a preset or a sweep's options; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise _bad("config", data, "a table of training options", "training config")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise TrainError(f"training config has no option {key!r}; {closest_names(str(key), known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the optimizer as its text spec) that `from_dict` reads back."""
        return {
            "experiment": self.experiment,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "per": self.per,
            "optimizer": None if self.optimizer is None else str(self.optimizer),
            # only when asked for: the identity of every float32 job stays as it was
            **({} if self.precision == "float32" else {"precision": self.precision}),
        }

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes` (None values are ignored: "not given")."""
        given = {k: v for k, v in changes.items() if v is not None}
        return TrainConfig.from_dict({**self.to_dict(), **given})
