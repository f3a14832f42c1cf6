"""PyTorch's ``torch.optim.lr_scheduler`` classes, as lrlab schedules.

Each function takes the scheduler's own arguments, without the optimizer;
``base_lr`` (the ``lr`` the optimizer was built with) is a keyword. It
returns a core schedule ``s`` with ``s(t) == optimizer.param_groups[0]['lr']``
after ``t`` calls of ``scheduler.step()``.

``OneCycleLR`` and ``CyclicLR`` cycle the momentum too, as torch does by
default (``cycle_momentum=True``): they return a `Hyperparams` value holding
the rate's schedule ``.lr`` and the momentum's ``.momentum`` (SGD's
``momentum``, or ``betas[0]`` for Adam-like optimizers), which
`lrlab.torch.ScheduleLR` takes as it is; ``h(t)`` is still the rate. With
``cycle_momentum=False`` they return the rate's schedule alone.

>>> from lrlab.compat import torch as T
>>> T.MultiStepLR(milestones=[15, 30], gamma=0.5, base_lr=0.5)
lrlab.multi_factor(0.5, milestones=[15, 30], factor=0.5)
>>> T.CosineAnnealingLR(T_max=20, eta_min=0.01, base_lr=0.3)(40)  # torch climbs back after T_max
0.3

Not here: ``LambdaLR`` and ``MultiplicativeLR`` with an arbitrary Python
function (write the formula with lrlab's families instead; a constant
``MultiplicativeLR`` factor is accepted as a number), ``ChainedScheduler``,
and ``ReduceLROnPlateau`` (see `lrlab.plateau`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lrlab.frameworks.compat._common import (
    check,
    check_flag,
    check_int,
    check_list,
    join_checked,
    joined,
    plain,
    rate,
    refuse,
)
from lrlab.frameworks.hyperparams import Hyperparams
from lrlab.schedules import (
    Constant,
    Cosine,
    CosineRestarts,
    CosineWave,
    Cyclic,
    Exponential,
    Factor,
    Linear,
    MultiFactor,
    PiecewiseConstant,
    Poly,
    Schedule,
)
from lrlab.schedules.base import choice

__all__ = [
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "LinearLR",
    "ExponentialLR",
    "PolynomialLR",
    "CosineAnnealingLR",
    "MultiplicativeLR",
    "SequentialLR",
    "OneCycleLR",
    "CyclicLR",
    "CosineAnnealingWarmRestarts",
]


def _base(where: str, base_lr: Any) -> Any:
    return rate(where, "base_lr", base_lr)


def StepLR(step_size: float, gamma: float = 0.1, *, base_lr: float) -> Schedule:
    """``base_lr * gamma ** floor(t / step_size)``: `factor` (or a staircase `exponential` when gamma > 1)."""
    where = "torch.StepLR"
    lr = _base(where, base_lr)
    size = check(where, "step_size", step_size, low=0, low_open=True)
    g = check(where, "gamma", gamma, low=0, low_open=True)
    if g <= 1:
        return Factor(lr, factor=g, every=size)
    return Exponential(lr, rate=g, every=size, staircase=True)


def MultiStepLR(milestones: Sequence[float], gamma: float = 0.1, *, base_lr: float) -> Schedule:
    """``base_lr * gamma ** #{m <= t}``: `multi_factor`; a repeated milestone counts twice, order does not matter."""
    where = "torch.MultiStepLR"
    lr = _base(where, base_lr)
    ms = sorted(check_list(where, "milestones", milestones, low=0))
    g = check(where, "gamma", gamma, low=0, low_open=True)
    return MultiFactor(lr, milestones=tuple(ms), factor=g)


def ConstantLR(factor: float = 1.0 / 3, total_iters: float = 5, *, base_lr: float) -> Schedule:
    """``base_lr * factor`` before ``total_iters``, ``base_lr`` from then on: `piecewise_constant`."""
    where = "torch.ConstantLR"
    lr = _base(where, base_lr)
    f = check(where, "factor", factor, low=0, high=1)
    n = check(where, "total_iters", total_iters, low=0)
    return PiecewiseConstant((n,), (lr * f, lr))


def LinearLR(
    start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: float = 5, *, base_lr: float
) -> Schedule:
    """From ``base_lr * start_factor`` to ``base_lr * end_factor`` over ``total_iters``, then held: `linear`."""
    where = "torch.LinearLR"
    lr = _base(where, base_lr)
    a = check(where, "start_factor", start_factor, low=0, low_open=True, high=1)
    b = check(where, "end_factor", end_factor, low=0, high=1)
    n = check(where, "total_iters", total_iters, low=0, low_open=True)
    return Linear(lr * a, lr * b, steps=n)


def ExponentialLR(gamma: float, *, base_lr: float) -> Schedule:
    """``base_lr * gamma ** t``: `exponential`."""
    where = "torch.ExponentialLR"
    lr = _base(where, base_lr)
    return Exponential(lr, rate=check(where, "gamma", gamma, low=0, low_open=True))


def PolynomialLR(total_iters: float = 5, power: float = 1.0, *, base_lr: float) -> Schedule:
    """``base_lr * (1 - min(t, total_iters) / total_iters) ** power``: `poly` to 0."""
    where = "torch.PolynomialLR"
    lr = _base(where, base_lr)
    n = check(where, "total_iters", total_iters, low=0, low_open=True)
    return Poly(lr, steps=n, power=check(where, "power", power, low=0, low_open=True))


def CosineAnnealingLR(T_max: float, eta_min: float = 0.0, *, base_lr: float) -> Schedule:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2`` for *every* t: `cosine_wave`.

    torch does not hold ``eta_min`` after ``T_max``: the rate climbs back to
    ``base_lr`` at ``2 * T_max`` (use `lrlab.cosine` for the held curve).
    """
    where = "torch.CosineAnnealingLR"
    lr = _base(where, base_lr)
    steps = check(where, "T_max", T_max, low=0, low_open=True)
    return CosineWave(lr, steps=steps, final_lr=rate(where, "eta_min", eta_min))


def MultiplicativeLR(lr_lambda: float, *, base_lr: float) -> Schedule:
    """A constant factor per step, ``base_lr * lr_lambda ** t``: `exponential`.

    torch takes a function of the epoch; lrlab cannot read a function, so give
    the constant factor itself (``lr_lambda=0.95`` for ``lambda epoch: 0.95``).
    """
    where = "torch.MultiplicativeLR"
    lr = _base(where, base_lr)
    if callable(lr_lambda):
        raise refuse(
            where,
            "lr_lambda",
            lr_lambda,
            "a number (the constant factor per step): a Python function cannot become a schedule; "
            "write a varying factor with lrlab's families",
        )
    return Exponential(lr, rate=check(where, "lr_lambda", lr_lambda, low=0, low_open=True))


def SequentialLR(schedulers: Sequence[Schedule], milestones: Sequence[float]) -> Schedule:
    """``schedulers[k]`` from ``milestones[k-1]`` on, its clock restarted at 0 there: `join`.

    Pass the other compat calls as ``schedulers`` (each with its ``base_lr``).
    A scheduler that a repeated milestone (or a milestone at 0) never lets run
    is left out, as torch never runs it.
    """
    return join_checked("torch.SequentialLR", ("schedulers", schedulers), ("milestones", milestones))


def OneCycleLR(
    max_lr: float,
    total_steps: int | None = None,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    *,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    cycle_momentum: bool = True,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> Hyperparams | Schedule:
    """torch's one-cycle policy, phase for phase: a `join` of `cosine` (or `linear`) pieces.

    torch ends the warm-up phase at ``pct_start * total_steps - 1`` (not at
    ``pct_start * total_steps`` as `lrlab.one_cycle` and optax do) and the last
    phase at ``total_steps - 1``, where it reaches
    ``max_lr / div_factor / final_div_factor``; that value is held after it
    (torch refuses to step further). With ``three_phase`` the rate comes back
    down to ``max_lr / div_factor`` at ``2 * pct_start * total_steps - 2``
    before the final anneal.

    The momentum (``cycle_momentum``, the default) runs the other way over the
    same phases: ``max_momentum`` down to ``base_momentum`` at the peak rate,
    back up to ``max_momentum`` (and held there in the third phase). Returned
    as ``Hyperparams(lr=..., momentum=...)``; the rate alone without it.
    """
    where = "torch.OneCycleLR"
    peak = rate(where, "max_lr", max_lr)
    if total_steps is None:
        if epochs is None or steps_per_epoch is None:
            raise refuse(where, "total_steps", None, "given, or else both epochs and steps_per_epoch")
        total = check_int(where, "epochs", epochs, low=1) * check_int(where, "steps_per_epoch", steps_per_epoch, low=1)
    else:
        total = check_int(where, "total_steps", total_steps, low=1)
    pct = check(where, "pct_start", pct_start, low=0, high=1)
    anneal = choice(where, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    div = check(where, "div_factor", div_factor, low=0, low_open=True)
    final_div = check(where, "final_div_factor", final_div_factor, low=0, low_open=True)
    three = check_flag(where, "three_phase", three_phase)
    cycle = check_flag(where, "cycle_momentum", cycle_momentum)
    low_m = rate(where, "base_momentum", base_momentum)
    high_m = rate(where, "max_momentum", max_momentum)

    initial_lr = peak / div
    min_lr = initial_lr / final_div
    # torch's phase ends, computed as torch computes them
    first_end = float(pct * total) - 1
    if not first_end > 0:
        raise refuse(where, "pct_start", pct_start, f"> {1 / total:g} (1 / total_steps) so the first phase has a step")
    if three:
        ends = [first_end, float(2 * pct * total) - 2, total - 1]
        levels = [initial_lr, peak, initial_lr, min_lr]
        momenta = [high_m, low_m, high_m, high_m]
    else:
        ends = [first_end, total - 1]
        levels = [initial_lr, peak, min_lr]
        momenta = [high_m, low_m, high_m]
    starts = [0.0, *ends[:-1]]
    if any(not end > start for start, end in zip(starts, ends, strict=True)):
        raise refuse(where, "pct_start", pct_start, "small enough that every phase has a step")
    lr = _phases(anneal, starts, ends, levels)
    if not cycle:
        return lr
    return Hyperparams(lr, momentum=_phases(anneal, starts, ends, momenta))


def _phases(anneal: str, starts: Sequence[float], ends: Sequence[float], levels: Sequence[float]) -> Schedule:
    """One anneal per phase, from ``levels[k]`` to ``levels[k + 1]``, joined at the phase ends."""
    pieces: list[Schedule] = []
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        length = plain(end - start)
        if levels[k] == levels[k + 1]:
            pieces.append(Constant(levels[k]))
        elif anneal == "cos":
            pieces.append(Cosine(levels[k], steps=length, final_lr=levels[k + 1]))
        else:
            pieces.append(Linear(levels[k], levels[k + 1], steps=length))
    return joined(pieces, [plain(e) for e in ends[:-1]])


def CyclicLR(
    base_lr: float,
    max_lr: float,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    cycle_momentum: bool = True,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> Hyperparams | Schedule:
    """Smith's triangle between ``base_lr`` and ``max_lr``: `cyclic` (torch overwrites the optimizer's lr).

    With ``cycle_momentum`` (the default) the momentum makes the opposite
    triangle, from ``max_momentum`` down to ``base_momentum`` while the rate
    rises, with the same scaling (`cyclic` with ``inverse=True``); returned as
    ``Hyperparams(lr=..., momentum=...)``, the rate alone without it.
    """
    where = "torch.CyclicLR"
    low = rate(where, "base_lr", base_lr)
    high = rate(where, "max_lr", max_lr, low=low)
    up = check(where, "step_size_up", step_size_up, low=0, low_open=True)
    down = None if step_size_down is None else check(where, "step_size_down", step_size_down, low=0, low_open=True)
    m = choice(where, "mode", mode, ("triangular", "triangular2", "exp_range"))
    g = check(where, "gamma", gamma, low=0, low_open=True, high=1)
    cycle = check_flag(where, "cycle_momentum", cycle_momentum)
    low_m = rate(where, "base_momentum", base_momentum)
    high_m = rate(where, "max_momentum", max_momentum)
    lr = Cyclic(low, high, step_size=up, mode=m, gamma=g, step_size_down=down)
    if not cycle:
        return lr
    if low_m <= high_m:
        momentum = Cyclic(low_m, high_m, step_size=up, mode=m, gamma=g, step_size_down=down, inverse=True)
    else:  # torch's max_momentum - (max - base) * ..., the same numbers as a rising cycle from max_momentum
        momentum = Cyclic(high_m, low_m, step_size=up, mode=m, gamma=g, step_size_down=down)
    return Hyperparams(lr, momentum=momentum)


def CosineAnnealingWarmRestarts(
    T_0: int,
    T_mult: int = 1,
    eta_min: float = 0.0,
    *,
    base_lr: float,
) -> Schedule:
    """SGDR: cosine cycles of ``T_0``, ``T_0 * T_mult``, ... steps: `cosine_restarts`."""
    where = "torch.CosineAnnealingWarmRestarts"
    lr = _base(where, base_lr)
    period = check_int(where, "T_0", T_0, low=1)
    mult = check_int(where, "T_mult", T_mult, low=1)
    return CosineRestarts(lr, period=period, period_mult=mult, final_lr=rate(where, "eta_min", eta_min))
