"""Smith's learning-rate range test: train briefly while the rate grows, and read the loss curve.

L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
section 3.3. For ``steps`` updates the rate grows exponentially
(``step_mode="exp"``, the default) or linearly (``"linear"``):

    lr_i = start * (end / start) ** (i / (steps - 1))        (lrlab.exponential)
    lr_i = start + (end - start) * i / (steps - 1)           (lrlab.linear)

and the loss of each batch -- or, with ``val_batches``, the mean loss on those
held-out batches after each update (slower, less noisy) -- is smoothed with a
bias-corrected exponential moving average (``beta = smoothing``):

    a_i = beta * a_(i-1) + (1 - beta) * loss_i,    smoothed_i = a_i / (1 - beta ** (i + 1)).

The test stops early when the smoothed loss exceeds ``diverge_factor`` times
the best so far, or a loss is NaN/infinite. Two rules read a largest useful
rate off the curve (`RULES`): ``"steepest"``, the rate where the smoothed loss
falls fastest (the minimum of ``d smoothed / d log(lr)`` before the loss
minimum), and ``"decade"``, the rate one decade (÷10) below the one at the
minimum. The suggestion is the smaller of the two, and `FindLRResult.rule`
says which rule gave it, in the words the console and the plot both use.
`FindLRResult.schedule` turns it into a schedule (``cosine({lr}, steps=30)``).

`range_test` runs the test on an `lrlab.Experiment`: its model (seeded), its
loss, its optimizer and its training batches in a seeded order.

The model's parameters, buffers, gradients and train/eval flags and the
optimizer's state are put back exactly when `find_lr` returns or raises, so
it can run just before training. The global random state is not restored.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab.errors import LrlabError, invalid
from lrlab.schedules.base import Schedule
from lrlab.schedules.decay import exponential, linear
from lrlab.schedules.spec import parse

__all__ = ["RULES", "FindLRResult", "OptimizerFactory", "find_lr", "range_test"]

#: the rules that read a maximum rate off the curve, in the words of the console and the plot
RULES = {
    "steepest": "steepest descent of the smoothed loss",
    "decade": "one decade below the minimum of the smoothed loss",
}
STEP_MODES = ("exp", "linear")

#: builds an optimizer for the model's parameters, e.g. ``lambda p: torch.optim.SGD(p, lr=1e-5, momentum=0.9)``
OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]

STOP_END = "reached the end rate"
STOP_DIVERGED = "the smoothed loss exceeded diverge_factor x its best"
STOP_NOT_FINITE = "the loss was not finite"
STOP_NO_DATA = "the batches ran out"


@dataclass(frozen=True)
class FindLRResult:
    """What a range test measured and suggests.

    ``lrs[i]``, ``losses[i]`` and ``smoothed[i]`` belong to update ``i`` (the
    loss of the batch the update at ``lrs[i]`` was computed from). ``stop_lr``
    is the rate at which the test stopped early (None when it ran to ``end``).
    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    steepest_lr: float | None
    """Rate of the steepest fall of the smoothed loss against log(lr), before its minimum."""
    min_loss_lr: float | None
    """Rate at the minimum of the smoothed loss."""
    decade_lr: float | None
    """``min_loss_lr / 10`` (not below ``start``): one decade before the minimum."""
    stop_reason: str
    stop_lr: float | None
    start: float
    end: float
    steps: int
    smoothing: float
    diverge_factor: float
    step_mode: str = "exp"
    validation: bool = False

    @property
    def suggested_lr(self) -> float | None:
        """The more cautious of the two suggestions (the smaller rate)."""
        found = [lr for lr in (self.steepest_lr, self.decade_lr) if lr is not None]
        return min(found) if found else None

    @property
    def rule(self) -> str | None:
        """The `RULES` key of the rule that gave `suggested_lr` (None without a suggestion)."""
        if self.suggested_lr is None:
            return None
        return "steepest" if self.suggested_lr == self.steepest_lr else "decade"

    @property
    def rule_text(self) -> str:
        """The suggestion with its rule, as the console and the plot say it: ``0.176 (one decade below ...)``."""
        if self.suggested_lr is None or self.rule is None:
            return "no suggestion: too few finite losses were recorded"
        return f"{self.suggested_lr:.3g} ({RULES[self.rule]})"

    def schedule(self, template: str = "cosine({lr}, steps=30)") -> Schedule:
        """The schedule `template` with ``{lr}`` replaced by the suggested rate (3 significant digits).

        >>> r = FindLRResult((0.1,), (1.0,), (1.0,), 0.2, 0.5, 0.05, "reached the end rate", None, 1e-5, 1.0, 2, 0.9, 4)
        >>> r.schedule("warmup(cosine({lr}, steps=25), steps=5)")
        lrlab.warmup(lrlab.cosine(0.05, steps=25), steps=5)
        """
        if self.suggested_lr is None:
            raise LrlabError("the range test has no suggestion to apply (too few finite losses were recorded)")
        if "{lr}" not in template:
            raise invalid("template", template, "a schedule spec with {lr} where the rate goes", where="schedule")
        return parse(template.replace("{lr}", f"{self.suggested_lr:.3g}"))

    @property
    def diverged(self) -> bool:
        """True when the test stopped because the loss blew up."""
        return self.stop_reason in (STOP_DIVERGED, STOP_NOT_FINITE)

    def describe(self) -> str:
        """Two lines for people: why the test stopped and what it suggests."""
        n = len(self.lrs)
        if self.stop_lr is None:
            first = f"ran {n} updates from lr={self.start:.3g} to {self.end:.3g} ({self.stop_reason})"
        else:
            first = f"stopped after {n} updates at lr={self.stop_lr:.3g}: {self.stop_reason}"
        if self.suggested_lr is None:
            return first + "\n" + self.rule_text
        other = []
        if self.rule == "decade" and self.steepest_lr is not None:
            other.append(f"{RULES['steepest']}: {self.steepest_lr:.3g}")
        if self.rule == "steepest" and self.decade_lr is not None:
            other.append(f"{RULES['decade']}: {self.decade_lr:.3g}")
        if self.min_loss_lr is not None:
            other.append(f"minimum at {self.min_loss_lr:.3g}")
        tail = f"; {', '.join(other)}" if other else ""
        return first + f"\nsuggested maximum learning rate: {self.rule_text}{tail}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (every number finite)."""
        return {
            "start": self.start,
            "end": self.end,
            "steps": self.steps,
            "smoothing": self.smoothing,
            "diverge_factor": self.diverge_factor,
            "step_mode": self.step_mode,
            "validation": self.validation,
            "stop_reason": self.stop_reason,
            "stop_lr": self.stop_lr,
            "steepest_lr": self.steepest_lr,
            "min_loss_lr": self.min_loss_lr,
            "decade_lr": self.decade_lr,
            "suggested_lr": self.suggested_lr,
            "rule": self.rule,
            "rule_text": self.rule_text,
            "lrs": list(self.lrs),
            "losses": list(self.losses),
            "smoothed": list(self.smoothed),
        }


class _ModelSnapshot:
    """Copies of every parameter, buffer and gradient of a model, and each module's train flag."""

    def __init__(self, model: nn.Module) -> None:
        self.slots: list[tuple[nn.Module, str, torch.Tensor, torch.Tensor]] = []
        self.modes: list[tuple[nn.Module, bool]] = []
        grads: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        with torch.no_grad():
            for module in model.modules():
                self.modes.append((module, module.training))
                named = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
                for name, tensor in named:
                    self.slots.append((module, name, tensor, tensor.detach().clone()))
                    if isinstance(tensor, nn.Parameter) and id(tensor) not in grads:
                        grad = tensor.grad
                        grads[id(tensor)] = (tensor, None if grad is None else grad.detach().clone())
        self.grads = list(grads.values())

    def restore(self) -> None:
        with torch.no_grad():
            for module, name, tensor, saved in self.slots:
                tensor.copy_(saved)
                if getattr(module, name, None) is not tensor:  # the attribute was replaced: put ours back
                    setattr(module, name, tensor)
        for param, grad in self.grads:
            param.grad = grad
        for module, mode in self.modes:
            module.training = mode


def _batches(batches: Iterable[Any]) -> Iterator[Any]:
    """The batches, starting over when a pass ends, until a pass yields nothing (an iterator runs once)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            return


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def _check(name: str, value: Any, ok: bool, requirement: str) -> None:
    if not ok:
        raise invalid(name, value, requirement, where="find_lr")


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def find_lr(
    model: nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    batches: Iterable[Any],
    *,
    optimizer: torch.optim.Optimizer | OptimizerFactory | None = None,
    start: float = 1e-5,
    end: float = 10.0,
    steps: int = 200,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    step_mode: str = "exp",
    val_batches: Iterable[Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FindLRResult:
    """Run the range test on `model` and suggest a maximum learning rate (see the module docstring).

    `batches` yields ``(inputs, targets)``; ``loss_fn(model(inputs), targets)``
    is the scalar loss. A re-iterable `batches` (a list, a ``DataLoader``)
    starts over when it runs out before `steps` updates; an iterator stops the
    test. `optimizer` is an optimizer of the model (its state is restored
    afterwards), a factory called with ``model.parameters()``, or None for
    plain SGD. Every param group gets the same rate. `step_mode` is ``"exp"``
    or ``"linear"``; with `val_batches` (a re-iterable of pairs) the loss
    recorded is the mean loss on them after each update, in eval mode.
    `progress(done, steps)` is called after each update.

    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 3, generator=gen)
    >>> y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    >>> result = find_lr(torch.nn.Linear(3, 1), torch.nn.MSELoss(), [(x, y)], start=1e-4, end=100.0, steps=100)
    >>> result.diverged, 1e-4 <= result.suggested_lr < result.stop_lr
    (True, True)
    """
    _check("start", start, _real(start) and start > 0, "> 0")
    _check("end", end, _real(end) and end > start, f"> start={start!r}")
    ok_steps = isinstance(steps, int) and not isinstance(steps, bool) and steps >= 2
    _check("steps", steps, ok_steps, "a whole number >= 2")
    _check("smoothing", smoothing, _real(smoothing) and 0 <= smoothing < 1, "in [0, 1)")
    _check("diverge_factor", diverge_factor, _real(diverge_factor) and diverge_factor > 1, "> 1")
    _check("step_mode", step_mode, step_mode in STEP_MODES, "'exp' or 'linear'")
    _check("model", type(model).__name__, isinstance(model, nn.Module), "a torch.nn.Module")
    _check("loss_fn", loss_fn, callable(loss_fn), "callable as loss_fn(outputs, targets)")

    if step_mode == "exp":
        schedule: Schedule = exponential(float(start), rate=float(end) / float(start), every=steps - 1)
    else:
        schedule = linear(float(start), float(end), steps=steps - 1)
    rates = schedule(np.arange(steps, dtype=np.float64))
    validation = list(val_batches) if val_batches is not None else None
    if validation is not None and not validation:
        raise invalid("val_batches", validation, "at least one (inputs, targets) pair", where="find_lr")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer) and not callable(optimizer):
        raise invalid("optimizer", optimizer, "a torch optimizer, a factory of one, or None", where="find_lr")

    snapshot = _ModelSnapshot(model)
    saved_state = copy.deepcopy(optimizer.state_dict()) if isinstance(optimizer, torch.optim.Optimizer) else None
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    reason, stop_lr = STOP_END, None
    try:
        if isinstance(optimizer, torch.optim.Optimizer):
            opt = optimizer
        elif optimizer is None:
            opt = torch.optim.SGD(model.parameters(), lr=float(start))
        else:
            opt = optimizer(model.parameters())
            if not isinstance(opt, torch.optim.Optimizer):
                raise invalid("optimizer", opt, "a factory returning a torch optimizer", where="find_lr")
        model.train()
        data = _batches(batches)
        average, best = 0.0, math.inf
        for i, lr in enumerate(rates.tolist()):
            batch = next(data, None)
            if batch is None:
                reason, stop_lr = STOP_NO_DATA, lr
                break
            if not isinstance(batch, list | tuple) or len(batch) != 2:
                raise invalid(
                    "batches", type(batch).__name__, "an iterable of (inputs, targets) pairs", where="find_lr"
                )
            inputs, targets = batch
            _set_lr(opt, lr)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            value = float(loss.detach())
            if not math.isfinite(value):
                reason, stop_lr = STOP_NOT_FINITE, lr
                break
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            if validation is not None:
                value = _mean_loss(model, loss_fn, validation)
                if not math.isfinite(value):
                    reason, stop_lr = STOP_NOT_FINITE, lr
                    break
            if progress is not None:
                progress(i + 1, steps)
            average = smoothing * average + (1.0 - smoothing) * value
            smooth = average / (1.0 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge_factor * best:
                reason, stop_lr = STOP_DIVERGED, lr
                break
    finally:
        snapshot.restore()
        if isinstance(optimizer, torch.optim.Optimizer) and saved_state is not None:
            optimizer.load_state_dict(saved_state)

    steepest, at_min, decade = _suggest(lrs, smoothed, float(start))
    return FindLRResult(
        lrs=tuple(lrs),
        losses=tuple(losses),
        smoothed=tuple(smoothed),
        steepest_lr=steepest,
        min_loss_lr=at_min,
        decade_lr=decade,
        stop_reason=reason,
        stop_lr=stop_lr,
        start=float(start),
        end=float(end),
        steps=steps,
        smoothing=float(smoothing),
        diverge_factor=float(diverge_factor),
        step_mode=step_mode,
        validation=validation is not None,
    )


@torch.no_grad()
def _mean_loss(model: nn.Module, loss_fn: Callable[[Any, Any], torch.Tensor], batches: list[Any]) -> float:
    """The example-weighted mean loss on `batches`, in eval mode (the train flag put back)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        total, count = 0.0, 0
        for inputs, targets in batches:
            n = len(targets)
            total += float(loss_fn(model(inputs), targets)) * n
            count += n
    finally:
        for module, mode in modes:
            module.training = mode
    return total / count


def _suggest(lrs: list[float], smoothed: list[float], start: float) -> tuple[float | None, float | None, float | None]:
    """(steepest, at the minimum, minimum / 10) from the recorded curve."""
    if len(smoothed) < 2:
        return None, None, None
    curve = np.asarray(smoothed, dtype=np.float64)
    rates = np.asarray(lrs, dtype=np.float64)
    low = int(np.argmin(curve))
    at_min = float(rates[low])
    decade = max(start, at_min / 10.0)
    steepest = None
    if low >= 2:
        slope = np.gradient(curve[: low + 1], np.log(rates[: low + 1]))
        steepest = float(rates[int(np.argmin(slope))])
    return steepest, at_min, decade


# -- on an experiment -------------------------------------------------------------------------------------------
def range_test(
    experiment: Any,
    *,
    data: Any = None,
    seed: int = 0,
    batch_size: int | None = None,
    optimizer: Any = None,
    validation: int = 0,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> tuple[FindLRResult, dict[str, Any]]:
    """The range test on an experiment (an `lrlab.Experiment` or a reference to one); returns the result and its config.

    The model is ``experiment.model(seed)`` (seeded as in training), the loss
    the experiment's, the optimizer `optimizer` (a spec such as
    ``"sgd(momentum=0.9)"``; None: the experiment's) and the batches its
    training data in an order drawn from `seed`, epoch after epoch. With
    ``validation=N`` that many training examples are held out (drawn from the
    seed) and the loss recorded is theirs after each update. `options` go to
    `find_lr` (``start``, ``end``, ``steps``, ``step_mode``, ``smoothing``,
    ``diverge_factor``).
    """
    from lrlab.lab.batches import EVAL_BATCH, batch_source
    from lrlab.lab.config import OptimizerSpec, TrainConfig
    from lrlab.lab.experiment import resolve_experiment
    from lrlab.lab.train import build_model, build_optimizer

    exp = resolve_experiment(experiment, data=data)
    spec = OptimizerSpec.parse(optimizer) if optimizer is not None else exp.optimizer
    loaded = exp.load_data()
    train = loaded.train
    target = torch.device(device)
    val_batches = None
    if validation:
        train, held = _hold_out(train, int(validation), seed)
        x, y = held
        val_batches = [
            (x[i : i + EVAL_BATCH].to(target), y[i : i + EVAL_BATCH].to(target)) for i in range(0, len(y), EVAL_BATCH)
        ]
    batch_size = batch_size or TrainConfig().batch_size
    source = batch_source(train, batch_size, target, False, loaded.num_workers)
    model = build_model(exp, seed).to(target)

    def batches() -> Iterator[Any]:
        generator = torch.Generator().manual_seed(seed)
        epoch = 0
        while True:
            epoch += 1
            empty = True
            for batch in source.batches(seed, epoch, source.order(generator)):
                empty = False
                yield batch
            if empty:
                return

    start = float(options.get("start", 1e-5))
    result = find_lr(
        model,
        exp.loss,
        batches(),
        optimizer=lambda params: build_optimizer(spec, params, start, exp.name),
        val_batches=val_batches,
        progress=progress,
        **options,
    )
    config = {
        "experiment": exp.name,
        "data": loaded.description,
        "optimizer": str(spec) if isinstance(spec, OptimizerSpec) else exp.optimizer_name(),
        "seed": seed,
        "batch_size": batch_size,
        "validation_examples": int(validation),
        **{k: result.to_dict()[k] for k in ("start", "end", "steps", "step_mode", "smoothing", "diverge_factor")},
    }
    return result, config


def _hold_out(train: Any, count: int, seed: int) -> tuple[Any, tuple[torch.Tensor, torch.Tensor]]:
    """Split `count` examples (a seeded draw) off the training data: (the rest, (inputs, targets))."""
    from torch.utils.data import DataLoader, Subset

    if callable(train) and not hasattr(train, "__getitem__"):
        raise LrlabError("find-lr --validation needs training data as tensors or a Dataset, not a loader factory")
    size = len(train[1]) if isinstance(train, tuple | list) else len(train)
    if not 0 < count < size:
        raise invalid("validation", count, f"between 1 and {size - 1} (the training examples)", where="find_lr")
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + 1))
    held, rest = order[:count], order[count:]
    if isinstance(train, tuple | list):
        x, y = train
        return (x[rest], y[rest]), (x[held], y[held])
    inputs, targets = zip(*DataLoader(Subset(train, held.tolist()), batch_size=count), strict=True)
    return Subset(train, rest.tolist()), (inputs[0], targets[0])
