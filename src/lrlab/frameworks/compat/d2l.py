"""The *Dive into Deep Learning* "Learning Rate Scheduling" classes, as lrlab schedules.

The chapter's schedulers are called once per epoch, in order, from epoch 0;
each function here returns ``s`` with ``s(t) ==`` the value of the ``t``-th
call on a fresh instance. Two of them are stateful in a way that shows:

* ``FactorScheduler`` multiplies *before* it answers, so its first answer is
  already ``base_lr * factor``: a `skip` of one step around `factor`;
* ``CosineScheduler`` with warmup answers ``warmup_begin_lr`` (0 by default)
  at epoch 0, and holds ``final_lr`` after ``max_update``.

>>> from lrlab.compat import d2l
>>> d2l.FactorScheduler(factor=0.9, stop_factor_lr=1e-2, base_lr=2.0)(0)
1.8
>>> d2l.CosineScheduler(20, warmup_steps=5, base_lr=0.3, final_lr=0.01)
lrlab.warmup(lrlab.cosine(0.3, steps=15, final_lr=0.01), steps=5)
"""

from __future__ import annotations

from collections.abc import Sequence

from lrlab.frameworks.compat._common import check, check_list, rate, refuse, warmed
from lrlab.schedules import Cosine, Factor, MultiFactor, Schedule, Skip, SquareRoot

__all__ = ["SquareRootScheduler", "FactorScheduler", "MultiFactorScheduler", "CosineScheduler"]


def SquareRootScheduler(lr: float = 0.1) -> Schedule:
    """``lr / sqrt(t + 1)``: `square_root`."""
    return SquareRoot(rate("d2l.SquareRootScheduler", "lr", lr))


def FactorScheduler(factor: float = 1, stop_factor_lr: float = 1e-7, base_lr: float = 0.1) -> Schedule:
    """``max(stop_factor_lr, base_lr * factor ** (t + 1))``: `factor`, one step in.

    The class stores the decayed rate before returning it, so even the first
    call is decayed (1.8, not 2.0, for ``base_lr=2.0, factor=0.9``); MXNet's
    ``FactorScheduler(step=1)`` with the same numbers is one step behind.
    """
    where = "d2l.FactorScheduler"
    f = check(where, "factor", factor, low=0, low_open=True, high=1)
    stop = rate(where, "stop_factor_lr", stop_factor_lr)
    lr = rate(where, "base_lr", base_lr)
    return Skip(Factor(lr, factor=f, every=1, min_lr=stop), steps=1)


def MultiFactorScheduler(step: Sequence[int], factor: float, base_lr: float) -> Schedule:
    """``base_lr * factor ** #{s in step: s <= t}``: `multi_factor`.

    The class multiplies when the epoch it is called with is in ``step``, so a
    step listed twice still counts once.
    """
    where = "d2l.MultiFactorScheduler"
    steps = check_list(where, "step", step, low=0)
    f = check(where, "factor", factor, low=0, low_open=True)
    lr = rate(where, "base_lr", base_lr)
    return MultiFactor(lr, milestones=tuple(sorted(set(steps))), factor=f)


def CosineScheduler(
    max_update: float,
    base_lr: float = 0.01,
    final_lr: float = 0,
    warmup_steps: float = 0,
    warmup_begin_lr: float = 0,
) -> Schedule:
    """Linear warmup from ``warmup_begin_lr``, then `cosine` to ``final_lr`` at ``max_update``.

    The cosine runs over ``max_update - warmup_steps`` steps: ``max_update``
    counts the warmup. After ``max_update`` the rate holds at ``final_lr``.
    """
    where = "d2l.CosineScheduler"
    lr = rate(where, "base_lr", base_lr)
    final = rate(where, "final_lr", final_lr)
    warm = check(where, "warmup_steps", warmup_steps, low=0)
    begin = rate(where, "warmup_begin_lr", warmup_begin_lr)
    total = check(where, "max_update", max_update, low=0, low_open=True)
    if not total > warm:
        raise refuse(where, "max_update", max_update, f"> warmup_steps ({warm})")
    decay = Cosine(lr, steps=total - warm, final_lr=final)
    return warmed(decay, warm, begin)
