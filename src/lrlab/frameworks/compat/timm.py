"""timm's schedulers (``timm.scheduler``), as lrlab schedules.

Each scheduler class takes timm's arguments without the optimizer, whose
``lr`` is the keyword ``base_lr``, and returns a core schedule ``s`` with
``s(t) == scheduler._get_lr(t)``: timm's ``train.py`` calls
``scheduler.step(epoch + 1)`` after each epoch and
``scheduler.step_update(num_updates)`` after each update, so epoch ``t``
(``t_in_epochs=True``) or update ``t`` (``t_in_epochs=False``), counting from
0, runs at the rate for ``t``; the constructor sets the rate for 0. The
schedule does not know the unit: ``t_in_epochs`` only says what ``t`` counts.

>>> from lrlab.compat import timm
>>> timm.CosineLRScheduler(t_initial=50, lr_min=1e-3, warmup_t=5, warmup_lr_init=1e-4, warmup_prefix=True, base_lr=0.1)
lrlab.warmup(lrlab.cosine(0.1, steps=50, final_lr=0.001), steps=5, start_lr=0.0001)
>>> s, num_epochs = timm.create_scheduler_v2(sched="cosine", num_epochs=40, cooldown_epochs=10, base_lr=0.1)
>>> num_epochs, s(40), s(45)  # like timm: the epochs to train, cooldown included; lr_min held after
(50, 0.0, 0.0)

`create_scheduler_v2` returns ``(schedule, num_epochs)`` as timm returns
``(scheduler, num_epochs)``, with every argument meaning what it means there:
epochs, turned into updates when ``step_on_epochs=False`` (then ``s`` counts
updates). Unlike timm's classes, its ``step``/``multistep`` warmups are not
prefixes unless ``warmup_prefix=True``, and its ``cycle_decay`` defaults to 0.1.

What timm does that is kept: without ``warmup_prefix`` the warmup takes the
place of the schedule's first steps (the rate jumps at its end: a `warmup`
with ``shift=False``); ``MultiStepLRScheduler`` applies milestone ``m`` at
``t = m - 1``; tanh without prefix ramps to the curve's value at ``warmup_t``.
The noise (``noise_range_t``, ``noise`` in the factory) follows timm's rule
-- ``lr * (1 + n)``, ``n ~ N(0, noise_std)`` redrawn until ``|n| < noise_pct``,
seeded per step -- with lrlab's own draws (`noisy`), not torch's, so a noisy
curve has timm's spread but not its numbers. Not here: ``PlateauLRScheduler``
and ``sched="plateau"`` (use `lrlab.plateau`), a callable ``decay_fn``, the
``exp`` decay and a decaying stable phase above ``lr_min`` in the WSD
scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from lrlab.frameworks.compat._common import check, check_flag, check_int, check_list, plain, rate, refuse
from lrlab.schedules import (
    WSD,
    Constant,
    Cosine,
    Cycles,
    Exponential,
    Factor,
    InversePower,
    Join,
    Linear,
    MultiFactor,
    Noisy,
    Poly,
    Product,
    Schedule,
    Skip,
    Tanh,
    Warmup,
)
from lrlab.schedules.base import choice

__all__ = [
    "CosineLRScheduler",
    "TanhLRScheduler",
    "StepLRScheduler",
    "MultiStepLRScheduler",
    "PolyLRScheduler",
    "WSDLRScheduler",
    "PlateauLRScheduler",
    "create_scheduler_v2",
]

_PLATEAU = "a schedule that is a function of the step: plateau follows a metric; use lrlab.plateau"

# -- checks and pieces shared by the schedulers ----------------------------------------------------


def _base(where: str, base_lr: Any) -> float:
    return rate(where, "base_lr", base_lr)


def _length(where: str, name: str, value: Any) -> Any:
    return check(where, name, value, low=0, low_open=True)


def _cycled(where: str, main: Schedule, mult: Any, decay: Any, limit: Any, *, peak: float | None = None) -> Schedule:
    """timm's cycles: cycle ``i`` lasts ``t_initial * cycle_mul ** i``, peaks at ``cycle_decay ** i``; then lr_min."""
    m = check(where, "cycle_mul", mult, low=1)
    d = check(where, "cycle_decay", decay, low=0, low_open=True, high=1)
    n = check_int(where, "cycle_limit", limit, low=1)
    if n == 1:
        return main  # one cycle: the curve, then lr_min, whatever the multiplier and the decay
    return Cycles(main, mult=m, decay=d, limit=n, peak=peak)


def _warmed(
    where: str, main: Schedule, warmup_t: Any, warmup_lr_init: Any, prefix: Any, *, ramp_to: float | None = None
) -> Schedule:
    """timm's linear warmup from ``warmup_lr_init`` to ``base_lr`` over ``warmup_t``.

    As a prefix the schedule then starts at 0; otherwise it runs on the global clock and the
    warmup takes the place of its first ``warmup_t`` steps. The ramp ends at ``main(0)`` (a
    `warmup`), or at ``ramp_to`` (a `join`) for a schedule that does not start at ``base_lr``
    (``ramp_to``); without a warmup such a schedule's first step still runs at ``base_lr``,
    the rate timm's constructor sets.
    """
    steps = check(where, "warmup_t", warmup_t, low=0)
    start = rate(where, "warmup_lr_init", warmup_lr_init)
    shift = check_flag(where, "warmup_prefix", prefix)
    if steps == 0:
        return main if ramp_to is None else Join((Constant(ramp_to), Skip(main, steps=1)), (1,))
    if ramp_to is not None:
        return Join((Linear(start, ramp_to, steps=steps), main if shift else Skip(main, steps=steps)), (steps,))
    return Warmup(main, steps=steps, start_lr=start, shift=shift)


def _noised(
    where: str, main: Schedule, noise_range_t: Any, noise_pct: Any, noise_std: Any, noise_seed: Any
) -> Schedule:
    """timm's noise over ``noise_range_t`` (a start, or ``[start, end)``): `noisy`."""
    if noise_range_t is None:
        return main
    if isinstance(noise_range_t, Sequence) and not isinstance(noise_range_t, str):
        bounds = check_list(where, "noise_range_t", noise_range_t, low=0)
        if len(bounds) != 2:
            raise refuse(where, "noise_range_t", list(noise_range_t), "a start, or [start, end]")
        start, end = bounds
        if not end > start:
            raise refuse(where, "noise_range_t", list(noise_range_t), "[start, end] with end > start")
    else:
        start, end = check(where, "noise_range_t", noise_range_t, low=0), None
    pct = check(where, "noise_pct", noise_pct, low=0, low_open=True, high=1)
    std = check(where, "noise_std", noise_std, low=0, low_open=True)
    seed = check_int(where, "noise_seed", noise_seed, low=0)
    # t = 0 runs at the constructor's value, which timm never noises
    start = max(start, 1)
    if end is not None and end <= start:
        return main
    return Noisy(main, start=start, end=end, pct=pct, std=std, kind="normal", seed=seed)


def _unit(where: str, t_in_epochs: Any, initialize: Any) -> None:
    """``t_in_epochs`` says what ``t`` counts and ``initialize`` concerns the optimizer: neither changes a rate."""
    check_flag(where, "t_in_epochs", t_in_epochs)
    check_flag(where, "initialize", initialize)


# -- the scheduler classes -------------------------------------------------------------------------


def CosineLRScheduler(
    t_initial: float,
    lr_min: float = 0.0,
    cycle_mul: float = 1.0,
    cycle_decay: float = 1.0,
    cycle_limit: int = 1,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    k_decay: float = 1.0,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """SGDR: ``lr_min + (lr_max - lr_min) * (1 + cos(pi * c ** k / T_i ** k)) / 2`` in each cycle.

    `cosine` (with ``k_decay``), in `cycles` when ``cycle_limit > 1``, warmed up
    and noised as timm does; ``lr_min`` after the last cycle.
    """
    where = "timm.CosineLRScheduler"
    lr = _base(where, base_lr)
    steps = _length(where, "t_initial", t_initial)
    floor = rate(where, "lr_min", lr_min)
    k = check(where, "k_decay", k_decay, low=0, low_open=True)
    _unit(where, t_in_epochs, initialize)
    main = _cycled(where, Cosine(lr, steps=steps, final_lr=floor, k_decay=k), cycle_mul, cycle_decay, cycle_limit)
    main = _warmed(where, main, warmup_t, warmup_lr_init, warmup_prefix)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


def TanhLRScheduler(
    t_initial: float,
    lb: float = -7.0,
    ub: float = 3.0,
    lr_min: float = 0.0,
    cycle_mul: float = 1.0,
    cycle_decay: float = 1.0,
    cycle_limit: int = 1,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """``lr_min + (lr_max - lr_min) * (1 - tanh(lb * (1 - f) + ub * f)) / 2``, ``f = c / T_i``: `tanh`.

    The curve starts just below ``base_lr``; the warmup still ramps to
    ``base_lr`` as a prefix, and to the curve's value at ``warmup_t`` without.
    """
    where = "timm.TanhLRScheduler"
    lr = _base(where, base_lr)
    steps = _length(where, "t_initial", t_initial)
    floor = rate(where, "lr_min", lr_min)
    low, high = check(where, "lb", lb), check(where, "ub", ub)
    if not low < high:
        raise refuse(where, "lb", lb, f"< ub ({ub!r})")
    _unit(where, t_in_epochs, initialize)
    curve = Tanh(lr, steps=steps, final_lr=floor, lower=low, upper=high)
    main = _cycled(where, curve, cycle_mul, cycle_decay, cycle_limit, peak=lr)
    warm = check(where, "warmup_t", warmup_t, low=0)
    start = rate(where, "warmup_lr_init", warmup_lr_init)
    if not warm or check_flag(where, "warmup_prefix", warmup_prefix):
        # the curve starts just below base_lr, where timm's constructor and its ramp put the rate
        main = _warmed(where, main, warm, start, True, ramp_to=lr)
    else:
        # timm ramps to the curve's own value at warmup_t, then follows it on the global clock
        main = Warmup(Skip(main, steps=warm), steps=warm, start_lr=start)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


def StepLRScheduler(
    decay_t: float,
    decay_rate: float = 1.0,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    warmup_prefix: bool = True,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """``base_lr * decay_rate ** (t // decay_t)``: `factor` (a staircase `exponential` when it grows)."""
    where = "timm.StepLRScheduler"
    lr = _base(where, base_lr)
    every = _length(where, "decay_t", decay_t)
    r = check(where, "decay_rate", decay_rate, low=0, low_open=True)
    _unit(where, t_in_epochs, initialize)
    main: Schedule
    if r == 1:
        main = Constant(lr)
    elif r < 1:
        main = Factor(lr, factor=r, every=every)
    else:
        main = Exponential(lr, rate=r, every=every, staircase=True)
    main = _warmed(where, main, warmup_t, warmup_lr_init, warmup_prefix)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


def MultiStepLRScheduler(
    decay_t: Sequence[float],
    decay_rate: float = 1.0,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    warmup_prefix: bool = True,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """``base_lr * decay_rate ** #{m in decay_t : m <= t + 1}``: `multi_factor` at ``m - 1``.

    timm applies milestone ``m`` one step early, at ``t = m - 1`` (torch's
    ``MultiStepLR`` at ``t = m``); milestones must be sorted, as timm assumes.
    """
    where = "timm.MultiStepLRScheduler"
    lr = _base(where, base_lr)
    milestones = check_list(where, "decay_t", decay_t, low=0, order="nondecreasing")
    r = check(where, "decay_rate", decay_rate, low=0, low_open=True)
    _unit(where, t_in_epochs, initialize)
    main: Schedule = MultiFactor(lr, milestones=tuple(plain(max(m - 1, 0)) for m in milestones), factor=r)
    # a milestone at 1 or below applies from t = 0, but the warmup still ramps to base_lr (and
    # without a warmup the first step runs at base_lr)
    early = bool(milestones) and milestones[0] <= 1 and r != 1
    main = _warmed(where, main, warmup_t, warmup_lr_init, warmup_prefix, ramp_to=lr if early else None)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


def PolyLRScheduler(
    t_initial: float,
    power: float = 0.5,
    lr_min: float = 0.0,
    cycle_mul: float = 1.0,
    cycle_decay: float = 1.0,
    cycle_limit: int = 1,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    warmup_prefix: bool = False,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    k_decay: float = 1.0,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """``lr_min + (lr_max - lr_min) * (1 - c ** k / T_i ** k) ** power`` in each cycle: `poly` (power 0.5 here)."""
    where = "timm.PolyLRScheduler"
    lr = _base(where, base_lr)
    steps = _length(where, "t_initial", t_initial)
    p = check(where, "power", power, low=0, low_open=True)
    floor = rate(where, "lr_min", lr_min)
    k = check(where, "k_decay", k_decay, low=0, low_open=True)
    _unit(where, t_in_epochs, initialize)
    curve = Poly(lr, steps=steps, power=p, final_lr=floor, k_decay=k)
    main = _cycled(where, curve, cycle_mul, cycle_decay, cycle_limit)
    main = _warmed(where, main, warmup_t, warmup_lr_init, warmup_prefix)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


_DECAY_FNS = ("linear", "1-sqrt", "cosine", "power", "exp")


def WSDLRScheduler(
    t_initial: float,
    decay_t: float,
    lr_min: float = 0.0,
    stable_fn: str = "constant",
    stable_timescale: float | None = None,
    stable_power: float = 0.5,
    decay_fn: str | Callable[[float], float] = "1-sqrt",
    decay_power: float = 0.5,
    decay_ratio: float = 0.1,
    warmup_t: float = 0,
    warmup_lr_init: float = 0.0,
    t_in_epochs: bool = True,
    noise_range_t: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    initialize: bool = True,
    *,
    base_lr: float,
) -> Schedule:
    """Warmup (always a prefix), stable, then a decay to ``lr_min`` over the last ``decay_t`` of ``t_initial``.

    ``lr_min + (base_lr * stable(s) - lr_min) * decay(frac)``: `wsd` for the
    constant stable phase (decay ``linear``, ``1-sqrt``, ``cosine`` or
    ``power``); a `product` of `inverse_power` and the decay for ``rsqrt`` /
    ``power`` stable phases when ``lr_min`` is 0.
    """
    where = "timm.WSDLRScheduler"
    lr = _base(where, base_lr)
    total = _length(where, "t_initial", t_initial)
    span = check(where, "decay_t", decay_t, low=0, low_open=True, high=total)
    floor = rate(where, "lr_min", lr_min)
    stable = choice(where, "stable_fn", stable_fn, ("constant", "rsqrt", "power"))
    if callable(decay_fn):
        raise refuse(where, "decay_fn", decay_fn, "one of 'linear', '1-sqrt', 'cosine', 'power': not a function")
    shape = choice(where, "decay_fn", decay_fn, _DECAY_FNS)
    if shape == "exp":
        raise refuse(where, "decay_fn", decay_fn, "one of 'linear', '1-sqrt', 'cosine', 'power' ('exp' is not built)")
    p = check(where, "decay_power", decay_power, low=0, low_open=True)
    check(where, "decay_ratio", decay_ratio, low=0, low_open=True, high=1, high_open=True)
    _unit(where, t_in_epochs, initialize)
    warm = check(where, "warmup_t", warmup_t, low=0)
    if stable == "constant":
        decay: str | Schedule = {"linear": "linear", "1-sqrt": "sqrt", "cosine": "cosine"}.get(shape, "")
        if shape == "power":  # 1 - frac ** p: a straight line on timm's k-decay clock
            decay = Poly(lr, steps=span, power=1.0, final_lr=floor, k_decay=p)
        main: Schedule = WSD(
            lr, steps=total, warmup_steps=0, decay_steps=span, final_lr=0.0 if shape == "power" else floor, decay=decay
        )
    else:
        if floor != 0:
            raise refuse(where, "lr_min", lr_min, f"0 with stable_fn={stable!r} (lrlab builds that decay above 0 only)")
        scale = warm if stable_timescale is None else stable_timescale
        scale = check(where, "stable_timescale", scale, low=0, low_open=True)
        power = 0.5 if stable == "rsqrt" else check(where, "stable_power", stable_power, low=0, low_open=True)
        sdecay: str | Schedule = {"linear": "linear", "1-sqrt": "sqrt", "cosine": "cosine"}.get(shape, "")
        if shape == "power":
            sdecay = Poly(1.0, steps=span, power=1.0, k_decay=p)
        main = Product(
            (
                InversePower(lr, power=power, offset=scale, timescale=scale),
                WSD(1.0, steps=total, warmup_steps=0, decay_steps=span, decay=sdecay),
            )
        )
    main = _warmed(where, main, warm, warmup_lr_init, True)
    return _noised(where, main, noise_range_t, noise_pct, noise_std, noise_seed)


def PlateauLRScheduler(*args: Any, **kwargs: Any) -> Schedule:
    """Refused: timm's plateau scheduler follows a metric; see `lrlab.plateau`."""
    raise refuse("timm.PlateauLRScheduler", "sched", "plateau", _PLATEAU)


# -- the factory -----------------------------------------------------------------------------------

_SCHEDS = ("cosine", "tanh", "step", "multistep", "plateau", "poly", "wsd", "rsqrt", "constant", "none")


def _cycle_length(t_initial: float, mult: float, limit: int) -> float:
    """timm's ``get_cycle_length()``: the length of ``cycle_limit`` cycles (before warmup and cooldown)."""
    cycles = max(1, limit)
    if mult == 1.0:
        return t_initial * cycles
    return math.floor(-t_initial * (mult**cycles - 1) / (1 - mult))


def create_scheduler_v2(
    sched: str = "cosine",
    num_epochs: int = 300,
    decay_epochs: float | None = None,
    decay_milestones: Sequence[int] = (90, 180, 270),
    cooldown_epochs: int = 0,
    patience_epochs: int = 10,
    decay_rate: float = 0.1,
    min_lr: float = 0.0,
    warmup_lr: float = 1e-5,
    warmup_epochs: int = 0,
    warmup_prefix: bool = False,
    noise: float | Sequence[float] | None = None,
    noise_pct: float = 0.67,
    noise_std: float = 1.0,
    noise_seed: int = 42,
    cycle_mul: float = 1.0,
    cycle_decay: float = 0.1,
    cycle_limit: int = 1,
    k_decay: float = 1.0,
    decay_fn: str | None = None,
    stable_timescale: float | None = None,
    plateau_mode: str = "max",
    step_on_epochs: bool = True,
    updates_per_epoch: int = 0,
    *,
    base_lr: float,
) -> tuple[Schedule, int | float]:
    """``(schedule, num_epochs)``, as timm's ``create_scheduler_v2`` returns ``(scheduler, num_epochs)``.

    ``num_epochs`` is what timm returns: the epochs to train, with the warmup
    prefix, the extra cycles and ``cooldown_epochs`` (held at ``min_lr``,
    which the schedule already does). With ``step_on_epochs=False`` every
    length is multiplied by ``updates_per_epoch`` and ``s(t)`` is the rate of
    update ``t``. ``sched="none"`` leaves the optimizer's rate alone: a
    `constant`. ``decay_rate`` is the power of ``poly``, as in timm.
    """
    where = "timm.create_scheduler_v2"
    lr = _base(where, base_lr)
    kind = choice(where, "sched", sched, _SCHEDS)
    if kind == "plateau":
        raise refuse(where, "sched", sched, _PLATEAU)
    epochs = check(where, "num_epochs", num_epochs, low=0)
    per_epoch = check_flag(where, "step_on_epochs", step_on_epochs)
    if decay_epochs is None:
        decay_epochs = 0.2 if kind in ("wsd", "rsqrt") else 90
    scale = 1
    if not per_epoch:
        scale = check_int(where, "updates_per_epoch", updates_per_epoch, low=1)
    t_initial = epochs * scale
    warmup_t = check(where, "warmup_epochs", warmup_epochs, low=0) * scale
    decay_t = check(where, "decay_epochs", decay_epochs, low=0, low_open=True) * scale
    milestones = [m * scale for m in check_list(where, "decay_milestones", decay_milestones, low=0)]
    cooldown_t = check(where, "cooldown_epochs", cooldown_epochs, low=0) * scale
    timescale = None if stable_timescale is None else stable_timescale * scale

    noise_range: float | list[float] | None = None
    if noise is not None:
        if isinstance(noise, Sequence) and not isinstance(noise, str):
            fractions = check_list(where, "noise", noise, low=0)
            noise_range = [n * t_initial for n in fractions]
            if len(noise_range) == 1:
                noise_range = noise_range[0]
        else:
            noise_range = check(where, "noise", noise, low=0) * t_initial
    noise_args: dict[str, Any] = {
        "noise_range_t": noise_range,
        "noise_pct": noise_pct,
        "noise_std": noise_std,
        "noise_seed": noise_seed,
    }
    warmup_args: dict[str, Any] = {"warmup_t": warmup_t, "warmup_lr_init": warmup_lr, "warmup_prefix": warmup_prefix}
    cycle_args: dict[str, Any] = {"cycle_mul": cycle_mul, "cycle_decay": cycle_decay, "cycle_limit": cycle_limit}
    prefix = check_flag(where, "warmup_prefix", warmup_prefix)

    schedule: Schedule
    length: float | None = None  # timm's get_cycle_length(), for the schedulers that have one
    if kind == "cosine":
        schedule = CosineLRScheduler(
            t_initial, lr_min=min_lr, k_decay=k_decay, **cycle_args, **warmup_args, **noise_args, base_lr=lr
        )
    elif kind == "tanh":
        schedule = TanhLRScheduler(t_initial, lr_min=min_lr, **cycle_args, **warmup_args, **noise_args, base_lr=lr)
    elif kind == "poly":
        poly_args = {"power": decay_rate, "lr_min": min_lr, "k_decay": k_decay, **cycle_args}
        schedule = PolyLRScheduler(t_initial, **poly_args, **warmup_args, **noise_args, base_lr=lr)
    elif kind == "step":
        schedule = StepLRScheduler(decay_t, decay_rate=decay_rate, **warmup_args, **noise_args, base_lr=lr)
    elif kind == "constant":
        schedule = StepLRScheduler(1, decay_rate=1.0, **warmup_args, **noise_args, base_lr=lr)
    elif kind == "multistep":
        schedule = MultiStepLRScheduler(milestones, decay_rate=decay_rate, **warmup_args, **noise_args, base_lr=lr)
    elif kind in ("wsd", "rsqrt"):
        t_sched = t_initial if prefix else t_initial - warmup_t
        decay_e = check(where, "decay_epochs", decay_epochs, low=0, low_open=True)
        span = decay_e * t_sched if decay_e < 1 else decay_t
        span = round(span)
        if not 0 < span <= t_sched:
            limit = "num_epochs" if prefix else "num_epochs - warmup_epochs"
            raise refuse(where, "decay_epochs", decay_epochs, f"in (0, {limit}] (the decay is {span} of {t_sched})")
        schedule = WSDLRScheduler(
            t_sched,
            span,
            lr_min=min_lr,
            stable_fn="rsqrt" if kind == "rsqrt" else "constant",
            stable_timescale=timescale,
            decay_fn=decay_fn or ("linear" if kind == "rsqrt" else "1-sqrt"),
            warmup_t=warmup_t,
            warmup_lr_init=warmup_lr,
            **noise_args,
            base_lr=lr,
        )
        length = warmup_t + t_sched
    else:  # "none": timm makes no scheduler and the optimizer keeps its rate
        schedule = Constant(lr)

    if kind in ("cosine", "tanh", "poly"):
        length = _cycle_length(t_initial, float(cycle_mul), int(cycle_limit))
        if prefix:
            length += warmup_t
    if length is not None:
        total = length + cooldown_t
        returned = total if per_epoch else total // scale
    else:
        returned = epochs + warmup_epochs if prefix else epochs
    return schedule, plain(returned)
