"""MXNet 1.x's ``mxnet.lr_scheduler`` classes, as lrlab schedules.

MXNet counts updates from 1: its optimizer asks the scheduler for
``num_update = 1`` at the first update. lrlab counts from 0, so each function
here returns ``s`` with ``s(t) == scheduler(num_update=t + 1)`` (the scheduler
called in order, as a trainer calls it). Where MXNet's own clock starts at
``num_update`` rather than at ``num_update - 1`` (warmup, `PolyScheduler`,
`CosineScheduler`), that shows in the spec as ``skip(..., steps=1)``.

>>> from lrlab.compat import mxnet as M
>>> M.MultiFactorScheduler(step=[15, 30], factor=0.5, base_lr=0.5)
lrlab.multi_factor(0.5, milestones=[15, 30], factor=0.5)
>>> M.CosineScheduler(max_update=20, base_lr=0.3, final_lr=0.01)
lrlab.skip(lrlab.cosine(0.3, steps=20, final_lr=0.01), steps=1)

Past ``max_update``, Poly and Cosine hold ``final_lr``, which is what a
scheduler called in order returns (a fresh MXNet scheduler first called past
``max_update`` would return ``base_lr``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lrlab.frameworks.compat._common import check, check_int, check_list, joined, rate, refuse, warmed
from lrlab.schedules import Constant, Cosine, Factor, Linear, MultiFactor, Poly, Schedule, Skip, Warmup
from lrlab.schedules.base import choice

__all__ = ["FactorScheduler", "MultiFactorScheduler", "PolyScheduler", "CosineScheduler"]


def _warmup_args(
    where: str, base_lr: Any, warmup_steps: Any, warmup_begin_lr: Any, warmup_mode: Any
) -> tuple[Any, ...]:
    """MXNet's ``LRScheduler`` checks, with lrlab's messages."""
    lr = rate(where, "base_lr", base_lr)
    warm = check_int(where, "warmup_steps", warmup_steps, low=0)
    begin = rate(where, "warmup_begin_lr", warmup_begin_lr, low=0, high=lr)
    mode = choice(where, "warmup_mode", warmup_mode, ("linear", "constant"))
    return lr, warm, begin, mode


def _on_update_clock(main: Schedule, base_lr: float, warm: int, begin: float, mode: str) -> Schedule:
    """MXNet's warmup-then-``main``, where ``main(t)`` is the rate of update ``t`` (0-based).

    MXNet warms up while ``num_update < warmup_steps`` (towards ``base_lr``),
    then uses a decay whose clock did *not* pause for the warmup. On the
    ``num_update`` clock ``u = t + 1`` the decay is ``main(u - 1)``, i.e.
    ``skip(main, warmup_steps - 1)`` from ``u = warmup_steps`` on.
    """
    if warm <= 1:
        return main  # num_update >= 1 > warmup_steps - 1: MXNet never warms up
    after = Skip(main, steps=warm - 1)
    if main(float(warm - 1)) == base_lr:
        # no decay before the warmup ends: an ordinary warmup towards base_lr
        return Skip(Warmup(after, steps=warm, start_lr=begin, mode=mode), steps=1)
    ramp: Schedule = Linear(begin, base_lr, steps=warm) if mode == "linear" else Constant(begin)
    return Skip(joined([ramp, after], [warm]), steps=1)


def FactorScheduler(
    step: int,
    factor: float = 1,
    stop_factor_lr: float = 1e-8,
    base_lr: float = 0.01,
    warmup_steps: int = 0,
    warmup_begin_lr: float = 0,
    warmup_mode: str = "linear",
) -> Schedule:
    """``max(stop_factor_lr, base_lr * factor ** floor(t / step))``: `factor`.

    MXNet's docstring says ``floor(num_update / step)``; its code decays only
    once ``num_update > step``, which is ``floor(t / step)`` on lrlab's clock.
    The decay counts from the first update, not from the end of the warmup.
    """
    where = "mxnet.FactorScheduler"
    lr, warm, begin, mode = _warmup_args(where, base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
    every = check_int(where, "step", step, low=1)
    f = check(where, "factor", factor, low=0, low_open=True, high=1)
    stop = rate(where, "stop_factor_lr", stop_factor_lr)
    if stop > lr:
        raise refuse(where, "stop_factor_lr", stop_factor_lr, f"<= base_lr ({lr}) for lrlab to reproduce it")
    main = Factor(lr, factor=f, every=every, min_lr=stop)
    return _on_update_clock(main, lr, warm, begin, mode)


def MultiFactorScheduler(
    step: Sequence[int],
    factor: float = 1,
    base_lr: float = 0.01,
    warmup_steps: int = 0,
    warmup_begin_lr: float = 0,
    warmup_mode: str = "linear",
) -> Schedule:
    """``base_lr * factor ** #{s in step: s <= t}``: `multi_factor` (MXNet: ``num_update > s``)."""
    where = "mxnet.MultiFactorScheduler"
    lr, warm, begin, mode = _warmup_args(where, base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
    listed = check_list(where, "step", step, low=1, order="increasing")
    if not listed:
        raise refuse(where, "step", list(listed), "a non-empty list")
    steps = tuple(check_int(where, f"step[{i}]", s, low=1) for i, s in enumerate(listed))
    f = check(where, "factor", factor, low=0, low_open=True, high=1)
    main = MultiFactor(lr, milestones=steps, factor=f)
    return _on_update_clock(main, lr, warm, begin, mode)


def _decay_with_warmup(decay: Schedule, warm: int, begin: float, mode: str) -> Schedule:
    """Poly and Cosine: warmup, then ``decay`` on the clock ``num_update - warmup_steps``."""
    return Skip(warmed(decay, warm, begin, mode), steps=1)


def _horizon(where: str, max_update: Any, warm: int) -> int:
    total = check_int(where, "max_update", max_update, low=1)
    if not total > warm:
        raise refuse(where, "max_update", max_update, f"> warmup_steps ({warm})")
    return total


def PolyScheduler(
    max_update: int,
    base_lr: float = 0.01,
    pwr: float = 2,
    final_lr: float = 0,
    warmup_steps: int = 0,
    warmup_begin_lr: float = 0,
    warmup_mode: str = "linear",
) -> Schedule:
    """Warmup, then `poly` from ``base_lr`` to ``final_lr`` over ``max_update - warmup_steps``, one step in."""
    where = "mxnet.PolyScheduler"
    lr, warm, begin, mode = _warmup_args(where, base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
    total = _horizon(where, max_update, warm)
    power = check(where, "pwr", pwr, low=0, low_open=True)
    final = rate(where, "final_lr", final_lr)
    return _decay_with_warmup(Poly(lr, steps=total - warm, power=power, final_lr=final), warm, begin, mode)


def CosineScheduler(
    max_update: int,
    base_lr: float = 0.01,
    final_lr: float = 0,
    warmup_steps: int = 0,
    warmup_begin_lr: float = 0,
    warmup_mode: str = "linear",
) -> Schedule:
    """Warmup, then `cosine` from ``base_lr`` to ``final_lr`` over ``max_update - warmup_steps``, one step in."""
    where = "mxnet.CosineScheduler"
    lr, warm, begin, mode = _warmup_args(where, base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
    total = _horizon(where, max_update, warm)
    final = rate(where, "final_lr", final_lr)
    return _decay_with_warmup(Cosine(lr, steps=total - warm, final_lr=final), warm, begin, mode)
