"""Smith's learning-rate range test: train briefly while the rate grows, and read the loss curve.

L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
section 3.3. For ``steps`` updates the rate grows exponentially,

    lr_i = start * (end / start) ** (i / (steps - 1))        (lrlab.exponential)

and the loss of each batch is smoothed with a bias-corrected exponential
moving average (``beta = smoothing``):

    a_i = beta * a_(i-1) + (1 - beta) * loss_i,    smoothed_i = a_i / (1 - beta ** (i + 1)).

The test stops early when the smoothed loss exceeds ``diverge_factor`` times
the best so far, or a loss is NaN/infinite. Two suggestions for the largest
useful rate are read off the curve: the rate where the smoothed loss falls
fastest (the minimum of ``d smoothed / d log(lr)`` before the loss minimum),
and the rate one decade (÷10) below the one at the minimum.

The model's parameters, buffers, gradients and train/eval flags and the
optimizer's state are put back exactly when `find_lr` returns or raises, so
it can run just before training. The global random state is not restored.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab.errors import invalid
from lrlab.schedules import exponential

__all__ = ["FindLRResult", "OptimizerFactory", "find_lr", "plot_find_lr"]

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

    @property
    def suggested_lr(self) -> float | None:
        """The more cautious of the two suggestions (the smaller rate)."""
        found = [lr for lr in (self.steepest_lr, self.decade_lr) if lr is not None]
        return min(found) if found else None

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
            return first + "\nno suggestion: too few finite losses were recorded"
        parts = []
        if self.steepest_lr is not None:
            parts.append(f"steepest descent of the smoothed loss at {self.steepest_lr:.3g}")
        if self.decade_lr is not None and self.min_loss_lr is not None:
            parts.append(f"minimum at {self.min_loss_lr:.3g}, one decade below: {self.decade_lr:.3g}")
        return first + f"\nsuggested maximum learning rate: {self.suggested_lr:.3g} ({'; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (every number finite)."""
        return {
            "start": self.start,
            "end": self.end,
            "steps": self.steps,
            "smoothing": self.smoothing,
            "diverge_factor": self.diverge_factor,
            "stop_reason": self.stop_reason,
            "stop_lr": self.stop_lr,
            "steepest_lr": self.steepest_lr,
            "min_loss_lr": self.min_loss_lr,
            "decade_lr": self.decade_lr,
            "suggested_lr": self.suggested_lr,
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
) -> FindLRResult:
    """Run the range test on `model` and suggest a maximum learning rate (see the module docstring).

    `batches` yields ``(inputs, targets)``; ``loss_fn(model(inputs), targets)``
    is the scalar loss. A re-iterable `batches` (a list, a ``DataLoader``)
    starts over when it runs out before `steps` updates; an iterator stops the
    test. `optimizer` is an optimizer of the model (its state is restored
    afterwards), a factory called with ``model.parameters()``, or None for
    plain SGD. Every param group gets the same rate.

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
    _check("model", type(model).__name__, isinstance(model, nn.Module), "a torch.nn.Module")
    _check("loss_fn", loss_fn, callable(loss_fn), "callable as loss_fn(outputs, targets)")

    schedule = exponential(float(start), rate=float(end) / float(start), every=steps - 1)
    rates = schedule(np.arange(steps, dtype=np.float64))
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
    )


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


def plot_find_lr(result: FindLRResult, path: str | Path, *, title: str | None = None) -> Path:
    """Draw loss against rate (log x) with the suggestions marked, and write a PNG to `path`."""
    from lrlab.reports.plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if result.lrs:
        ax.plot(result.lrs, result.losses, color="tab:blue", alpha=0.3, linewidth=1, label="loss")
        ax.plot(result.lrs, result.smoothed, color="tab:blue", label="smoothed loss")
        top = max(result.smoothed) * 1.1
        bottom = min(min(result.smoothed), min(result.losses))
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
    else:
        ax.text(0.5, 0.5, "no finite loss recorded", ha="center", va="center", transform=ax.transAxes)
    marks = [
        (result.steepest_lr, "steepest descent", "tab:orange", "--"),
        (result.decade_lr, "minimum / 10", "tab:green", "--"),
        (result.stop_lr, "stopped", "tab:red", ":"),
    ]
    for lr, label, color, style in marks:
        if lr is not None:
            ax.axvline(lr, color=color, linestyle=style, label=f"{label}: {lr:.3g}")
    ax.set_xscale("log")
    ax.set_xlim(result.start, result.end)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title(title or "Learning-rate range test (Smith 2017)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
