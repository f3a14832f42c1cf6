"""An experiment is a value: the data, the model, the loss, the metrics and the optimizer of a training problem.

Everything the lab does for the chapter -- paired runs on the same batches,
seeds with mean ± std, exact resume, divergence isolation, reports, sweeps,
the range test -- works on any `Experiment`::

    import torch, lrlab
    def make_model(seed):                      # lrlab seeds torch's RNG with `seed` around this call
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    exp = lrlab.Experiment(
        name="my-linear",
        data=lrlab.Data(train=(x_train, y_train), test=(x_test, y_test)),
        model=make_model,
        optimizer="sgd(momentum=0.9)",
    )
    result = lrlab.compare(["cosine(0.1, steps=10)", "constant(0.05)"], experiment=exp, seeds=2, epochs=10)

The data come as tensors ``(inputs, targets)`` (kept in memory: the fast
path), as a map-style torch ``Dataset`` (streamed through a ``DataLoader``
in an order lrlab draws from the run's seed), or as a factory
``loader(seed, epoch)`` returning an iterable of ``(inputs, targets)``
batches (the factory must give the same batches for the same seed and
epoch, so that runs stay paired). ``data`` may also be a function returning
`Data`, called once per job.

This module imports no torch: the defaults (cross-entropy loss, accuracy)
import it when called. `resolve_experiment` finds an experiment by built-in
name, ``package.module:factory`` or a path to a ``.py`` file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab.errors import ExperimentError, LrlabError, closest_names
from lrlab.lab.config import OptimizerSpec

__all__ = [
    "Data",
    "Experiment",
    "Metric",
    "accuracy",
    "cross_entropy",
    "resolve_experiment",
]

#: the name of the factory looked up in a module or file given without ``:name``
DEFAULT_FACTORY = "make_experiment"
#: the start of the module name a ``.py`` file given by path is loaded under
USER_MODULE_PREFIX = "lrlab_user_experiment_"


def cross_entropy(outputs: Any, targets: Any) -> Any:
    """The mean cross-entropy of logits `outputs` against class indices `targets` (the default loss)."""
    import torch.nn.functional as F

    return F.cross_entropy(outputs, targets)


@dataclass(frozen=True)
class Metric:
    """A quantity recorded per epoch on the training batches and on the test set.

    ``fn(outputs, targets)`` gives a scalar tensor for one batch: its mean
    over the batch (``reduction="mean"``) or its sum (``"sum"``, e.g. a count of
    correct answers). The epoch's value is the sum over batches divided by the
    number of examples either way.
    """

    fn: Callable[[Any, Any], Any]
    reduction: str = "mean"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ExperimentError(f"metric fn must be callable as fn(outputs, targets); got fn={self.fn!r}")
        if self.reduction not in ("mean", "sum"):
            raise ExperimentError(f"metric reduction must be 'mean' or 'sum'; got reduction={self.reduction!r}")


def _correct(outputs: Any, targets: Any) -> Any:
    return (outputs.argmax(1) == targets).sum()


#: the fraction of examples whose largest output is the target class
accuracy = Metric(_correct, reduction="sum")


@dataclass(frozen=True)
class Data:
    """An experiment's data: ``train`` and ``test`` (see the module docstring for the forms each may take).

    ``description`` is what reports say about the data ("60000 train + 10000
    test images of 28x28 from ..."); ``num_workers`` is the ``DataLoader``
    worker count for a ``Dataset``.
    """

    train: Any
    test: Any = None
    description: str = ""
    num_workers: int = 0


@dataclass(frozen=True)
class Experiment:
    """A training problem (see the module docstring).

    * ``model(seed)`` builds a fresh ``torch.nn.Module``; torch's global RNG is
      seeded with ``seed`` around the call (and restored after), so a factory
      that ignores the seed is still repeatable;
    * ``loss(outputs, targets)`` is the scalar loss to minimise (default: the
      mean cross-entropy);
    * ``metrics`` maps a name to a `Metric` or a function giving the batch mean;
      each is recorded as ``train_<name>`` and ``test_<name>`` (default:
      ``{"acc": accuracy}``; ``{}`` records the loss only);
    * ``optimizer`` is a name or spec (``"sgd(momentum=0.9)"``,
      ``"adamw(weight_decay=0.05)"``, ``"schedulefree_sgd"`` with the
      schedulefree extra) or a factory ``f(params, lr)`` returning a
      ``torch.optim.Optimizer`` (one with ``train()``/``eval()`` methods, such as
      schedulefree's, is switched to ``eval()`` for each evaluation); a run of
      a compare may name its own (``"schedule @ optimizer"``);
    * ``goal`` is the metric a comparison is judged by, e.g. ``"max:test_acc"``
      (default: the highest accuracy when one is recorded, else the lowest
      loss -- on the test set when there is one);
    * ``channels_last`` runs 4-d inputs and the model in channels-last memory
      layout (faster convolutions on CPUs; only float rounding changes);
    * ``reference`` names the published numbers the report puts beside the
      results (``"chapter"`` for the d2l chapter's runs), if any.
    """

    name: str
    data: Data | Callable[[], Data]
    model: Callable[[int], Any]
    loss: Callable[[Any, Any], Any] = cross_entropy
    metrics: Mapping[str, Metric | Callable[[Any, Any], Any]] = field(default_factory=lambda: {"acc": accuracy})
    optimizer: str | OptimizerSpec | Callable[..., Any] = "sgd"
    goal: str | None = None
    description: str = ""
    channels_last: bool = False
    reference: str | None = None

    def __post_init__(self) -> None:
        where = f"experiment {self.name!r}" if isinstance(self.name, str) else "experiment"
        if not isinstance(self.name, str) or not self.name.strip():
            raise ExperimentError(f"{where}: name must be a non-empty string; got name={self.name!r}")
        if not isinstance(self.data, Data) and not callable(self.data):
            raise ExperimentError(f"{where}: data must be a lrlab.Data or a function returning one; got {self.data!r}")
        for part in ("model", "loss"):
            if not callable(getattr(self, part)):
                raise ExperimentError(f"{where}: {part} must be callable; got {part}={getattr(self, part)!r}")
        if not isinstance(self.metrics, Mapping):
            raise ExperimentError(f"{where}: metrics must be a dict of name -> metric; got {self.metrics!r}")
        metrics = {}
        for key, value in self.metrics.items():
            if not isinstance(key, str) or not key.isidentifier() or key == "loss":
                raise ExperimentError(f"{where}: metric names must be identifiers other than 'loss'; got {key!r}")
            metrics[key] = value if isinstance(value, Metric) else Metric(value)
        object.__setattr__(self, "metrics", metrics)
        if not callable(self.optimizer):
            try:
                object.__setattr__(self, "optimizer", OptimizerSpec.parse(self.optimizer))
            except LrlabError as exc:
                raise ExperimentError(f"{where}: {exc}") from None

    def goal_metric(self, *, has_test: bool = True) -> str:
        """``goal``, or the highest accuracy if recorded, else the lowest loss -- on the test set if there is one."""
        if self.goal:
            return self.goal
        split = "test" if has_test else "train"
        return f"max:{split}_acc" if "acc" in self.metrics else f"min:{split}_loss"

    def load_data(self) -> Data:
        """The `Data` (calling ``data()`` if it is a function), checked; errors name the experiment."""
        if isinstance(self.data, Data):
            return self.data
        value: Data = call_user(self.name, "its data function", self.data, (), Data, "a lrlab.Data")
        return value

    def optimizer_name(self) -> str:
        """The optimizer as text for job records: its spec, or a factory's qualified name."""
        if isinstance(self.optimizer, OptimizerSpec):
            return str(self.optimizer)
        return f"{getattr(self.optimizer, '__module__', '?')}.{getattr(self.optimizer, '__qualname__', '?')}"


def _what(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def call_user(
    name: str, what: str, function: Callable[..., Any], args: tuple[Any, ...], kind: Any, kind_name: str, **kwargs: Any
) -> Any:
    """``function(*args, **kwargs)``, a part of experiment `name`: what it raises or a result not of `kind` is
    one `ExperimentError` naming the experiment and the part (`what`), e.g. "its data function returned 7"."""
    try:
        value = function(*args, **kwargs)
    except LrlabError:
        raise
    except Exception as exc:
        raise ExperimentError(f"experiment {name!r}: {what} raised {_what(exc)}") from exc
    if not isinstance(value, kind):
        raise ExperimentError(f"experiment {name!r}: {what} returned {value!r}, not {kind_name}")
    return value


# -- finding an experiment ----------------------------------------------------------------------------------
def resolve_experiment(ref: Experiment | str, *, data: Any = None) -> Experiment:
    """The experiment `ref` names: an `Experiment` itself, a built-in name, ``module:factory`` or ``file.py[:factory]``.

    A factory is called (with ``data=`` when `data` is given: the command
    line's ``--data``) and must return an `Experiment`. Every failure -- an
    import error, a factory that raises or returns something else -- is one
    `ExperimentError` naming `ref`.
    """
    if isinstance(ref, Experiment):
        if data is not None:
            raise ExperimentError(f"experiment {ref.name!r} brings its own data; give data= only with a name")
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise ExperimentError(f"experiment must be an Experiment, a built-in name or 'module:factory'; got {ref!r}")
    from lrlab.lab.experiments import BUILTIN

    text = ref.strip()
    if text in BUILTIN:
        target = BUILTIN[text]
    elif ":" in text or text.endswith(".py") or "/" in text:
        target = text
    else:
        hint = closest_names(text, BUILTIN)
        raise ExperimentError(
            f"unknown experiment {text!r}; {hint} (or give 'package.module:factory' or a path to a .py file)"
        )
    factory = _load_attribute(text, target)
    return _call_factory(text, factory, data)


def _load_attribute(ref: str, target: str) -> Any:
    path_part, _, attr = target.rpartition(":") if _has_attr(target) else (target, "", "")
    attr = attr or DEFAULT_FACTORY
    if path_part.endswith(".py") or "/" in path_part:
        module = _load_file(ref, Path(path_part))
    else:
        try:
            module = importlib.import_module(path_part)
        except Exception as exc:
            raise ExperimentError(f"experiment {ref!r}: cannot import {path_part!r} ({_what(exc)})") from None
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise ExperimentError(f"experiment {ref!r}: {path_part!r} has no {attr!r}; {closest_names(attr, names)}")
    return getattr(module, attr)


def _has_attr(target: str) -> bool:
    head, sep, tail = target.rpartition(":")
    return bool(sep) and bool(tail) and tail.isidentifier() and not (len(head) == 1 and head.isalpha())


def _load_file(ref: str, path: Path) -> Any:
    if not path.is_file():
        raise ExperimentError(f"experiment {ref!r}: no such file {str(path)!r}")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"{USER_MODULE_PREFIX}{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExperimentError(f"experiment {ref!r}: {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling (Ray) look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ExperimentError(f"experiment {ref!r}: running {str(path)!r} raised {_what(exc)}") from None
    return module


def _call_factory(ref: str, factory: Any, data: Any) -> Experiment:
    if isinstance(factory, Experiment):
        if data is not None:
            raise ExperimentError(f"experiment {ref!r} is a fixed Experiment; it takes no --data")
        return factory
    if not callable(factory):
        raise ExperimentError(f"experiment {ref!r}: {factory!r} is neither an Experiment nor a function returning one")
    kwargs: dict[str, Any] = {}
    if data is not None:
        if not _accepts(factory, "data"):
            raise ExperimentError(f"experiment {ref!r}: its factory takes no data= argument, so --data cannot be used")
        kwargs["data"] = data
    value: Experiment = call_user(ref, "its factory", factory, (), Experiment, "a lrlab.Experiment", **kwargs)
    return value


def _accepts(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def metric_names(experiment: Experiment, *, has_test: bool) -> list[str]:
    """The epoch records' metric keys: ``train_loss``, ``train_<m>``..., then ``test_loss``, ``test_<m>``..."""
    names = ["train_loss", *(f"train_{m}" for m in experiment.metrics)]
    if has_test:
        names += ["test_loss", *(f"test_{m}" for m in experiment.metrics)]
    return names
