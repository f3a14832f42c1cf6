"""Hugging Face transformers' schedules (``transformers.get_scheduler`` and its functions), as lrlab schedules.

transformers builds each schedule as a ``torch.optim.lr_scheduler.LambdaLR``
multiplier of the optimizer's learning rate; here the optimizer is dropped and
its ``lr`` is the keyword ``base_lr``. Each call returns a core schedule ``s``
with ``s(t) == base_lr * lr_lambda(t)``: the ``Trainer`` calls
``scheduler.step()`` after each ``optimizer.step()``, so update ``t``
(counting from 0) runs at ``lr_lambda(t)`` -- the constructor sets
``lr_lambda(0)`` for the first update.

>>> from lrlab.compat import hf
>>> hf.get_scheduler("linear", num_warmup_steps=10, num_training_steps=100, base_lr=5e-5)
lrlab.warmup(lrlab.linear(5e-05, end_lr=0.0, steps=90), steps=10)
>>> s = hf.get_scheduler("cosine", num_warmup_steps=0, num_training_steps=50, base_lr=0.1)
>>> s(50), s(100)  # transformers' cosine is not held at 0: it climbs back after num_training_steps
(0.0, 0.1)

Every name of ``transformers.SchedulerType`` that is a function of the step is
here, and each ``get_*_schedule*`` function under its own name. Where
transformers never clamps (``cosine``, ``cosine_with_min_lr``,
``cosine_warmup_with_min_lr`` run on past ``num_training_steps`` as a cosine
wave) the schedule does the same. Not here: ``reduce_lr_on_plateau`` and
``greedy``, which follow a metric (use `lrlab.plateau`). ``last_epoch`` is
accepted and changes nothing: ``s(t)`` is the rate of global update ``t``,
resumed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lrlab.frameworks.compat._common import check, check_int, joined, rate, refuse
from lrlab.schedules import (
    WSD,
    Constant,
    Cosine,
    CosineRestarts,
    CosineWave,
    InversePower,
    Linear,
    Poly,
    Schedule,
    Skip,
    Warmup,
)
from lrlab.schedules.base import choice

__all__ = [
    "SCHEDULER_TYPES",
    "get_scheduler",
    "get_constant_schedule",
    "get_constant_schedule_with_warmup",
    "get_linear_schedule_with_warmup",
    "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup",
    "get_polynomial_decay_schedule_with_warmup",
    "get_inverse_sqrt_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "get_wsd_schedule",
    "get_reduce_on_plateau_schedule",
]

#: the ``SchedulerType`` names this module builds, with the function each one calls
SCHEDULER_TYPES: dict[str, str] = {
    "linear": "get_linear_schedule_with_warmup",
    "cosine": "get_cosine_schedule_with_warmup",
    "cosine_with_restarts": "get_cosine_with_hard_restarts_schedule_with_warmup",
    "polynomial": "get_polynomial_decay_schedule_with_warmup",
    "constant": "get_constant_schedule",
    "constant_with_warmup": "get_constant_schedule_with_warmup",
    "inverse_sqrt": "get_inverse_sqrt_schedule",
    "cosine_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup",
    "cosine_warmup_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
    "warmup_stable_decay": "get_wsd_schedule",
}
#: names that follow a metric, not the step
_ADAPTIVE = ("reduce_lr_on_plateau", "greedy")
_PLATEAU = "a schedule that is a function of the step: this one follows a metric; use lrlab.plateau"


# -- checks and pieces shared by the functions ---------------------------------------------------


def _base(where: str, base_lr: Any) -> float:
    return rate(where, "base_lr", base_lr)


def _steps(where: str, name: str, value: Any, *, low: int = 0) -> int:
    return check_int(where, name, value, low=low)


def _epoch(where: str, last_epoch: Any) -> None:
    """``last_epoch`` only says where a resumed run goes on; the rates are those of the global step."""
    check_int(where, "last_epoch", last_epoch, low=-1)


def _warmed(lr: float, warmup: int, after: Schedule, *, starts_at_lr: bool = True) -> Schedule:
    """``lr * t / warmup`` for ``t < warmup``, then `after` on its own clock (transformers' linear warmup).

    `after` that starts at ``lr`` takes the warmup as `warmup`; one that does
    not (its first value is not the peak) follows a `linear` ramp in a `join`.
    """
    if warmup == 0:
        return after
    if starts_at_lr:
        return Warmup(after, steps=warmup)
    return joined([Linear(0.0, lr, steps=warmup), after], [warmup])


def _cosine_wave(lr: float, span: int, num_cycles: float, final_lr: float) -> Schedule:
    """``final + (lr - final) * (1 + cos(2 pi num_cycles p)) / 2``, ``p = t / span``, never clamped."""
    return CosineWave(lr, steps=_plain_ratio(span, 2 * num_cycles), final_lr=final_lr)


def _plain_ratio(a: float, b: float) -> int | float:
    x = a / b
    return int(x) if x.is_integer() else x


def _num_cycles(where: str, value: Any) -> Any:
    return check(where, "num_cycles", value, low=0, low_open=True)


def _min_lr(where: str, lr: float, min_lr: Any, min_lr_rate: Any) -> float:
    """The floor ``min_lr`` or ``min_lr_rate * base_lr``: exactly one of them, as transformers requires."""
    if min_lr is not None and min_lr_rate is not None:
        raise refuse(where, "min_lr_rate", min_lr_rate, f"None when min_lr is given (got min_lr={min_lr!r})")
    if min_lr is not None:
        return rate(where, "min_lr", min_lr)
    if min_lr_rate is None:
        raise refuse(where, "min_lr", None, "given, or else min_lr_rate")
    return lr * rate(where, "min_lr_rate", min_lr_rate)


# -- the functions ---------------------------------------------------------------------------------


def get_constant_schedule(last_epoch: int = -1, *, base_lr: float) -> Schedule:
    """``base_lr`` at every step: `constant`."""
    where = "hf.get_constant_schedule"
    _epoch(where, last_epoch)
    return Constant(_base(where, base_lr))


def get_constant_schedule_with_warmup(num_warmup_steps: int, last_epoch: int = -1, *, base_lr: float) -> Schedule:
    """``base_lr * t / num_warmup_steps`` while warming up, then ``base_lr``: `warmup` of a `constant`."""
    where = "hf.get_constant_schedule_with_warmup"
    lr = _base(where, base_lr)
    _epoch(where, last_epoch)
    return _warmed(lr, _steps(where, "num_warmup_steps", num_warmup_steps), Constant(lr))


def get_linear_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1, *, base_lr: float
) -> Schedule:
    """Warm up to ``base_lr``, then a straight line to 0 at ``num_training_steps``, held: `warmup` of `linear`.

    ``base_lr * max(0, (N - t) / max(1, N - W))`` after the warmup ``W``; with
    ``N <= W`` the rate drops to 0 at ``W``, as in transformers.
    """
    where = "hf.get_linear_schedule_with_warmup"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps)
    _epoch(where, last_epoch)
    if total <= warm:
        return _warmed(lr, warm, Constant(0.0), starts_at_lr=False)
    return _warmed(lr, warm, Linear(lr, 0.0, steps=total - warm))


def get_cosine_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5, last_epoch: int = -1, *, base_lr: float
) -> Schedule:
    """Warm up, then ``base_lr * (1 + cos(2 pi num_cycles p)) / 2`` with ``p = (t - W) / max(1, N - W)``.

    Not clamped: past ``num_training_steps`` the cosine goes on (back up to
    ``base_lr`` at ``2 N - W`` for the default half cycle): `cosine_wave`.
    """
    where = "hf.get_cosine_schedule_with_warmup"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps)
    cycles = _num_cycles(where, num_cycles)
    _epoch(where, last_epoch)
    return _warmed(lr, warm, _cosine_wave(lr, max(1, total - warm), cycles, 0.0))


def get_cosine_with_hard_restarts_schedule_with_warmup(
    num_warmup_steps: int, num_training_steps: int, num_cycles: int = 1, last_epoch: int = -1, *, base_lr: float
) -> Schedule:
    """Warm up, then ``num_cycles`` cosines from ``base_lr`` to 0 that restart, and 0 from ``num_training_steps``.

    ``base_lr * (1 + cos(pi * ((num_cycles * p) % 1))) / 2`` while ``p < 1``:
    `cosine_restarts` with period ``(N - W) / num_cycles``, joined to 0 (a
    fractional ``num_cycles`` cuts the last cosine short).
    """
    where = "hf.get_cosine_with_hard_restarts_schedule_with_warmup"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps)
    cycles = _num_cycles(where, num_cycles)
    _epoch(where, last_epoch)
    span = max(1, total - warm)
    if cycles == 1:
        return _warmed(lr, warm, Cosine(lr, steps=span))
    restarts = CosineRestarts(lr, period=_plain_ratio(span, cycles))
    return _warmed(lr, warm, joined([restarts, Constant(0.0)], [span]))


def get_polynomial_decay_schedule_with_warmup(
    num_warmup_steps: int,
    num_training_steps: int,
    lr_end: float = 1e-7,
    power: float = 1.0,
    last_epoch: int = -1,
    *,
    base_lr: float,
) -> Schedule:
    """Warm up, then ``(base_lr - lr_end) * (1 - (t - W) / (N - W)) ** power + lr_end``, held: `poly`.

    transformers requires ``lr_end < base_lr``; ``num_training_steps`` must
    pass the warmup (transformers divides by ``N - W``).
    """
    where = "hf.get_polynomial_decay_schedule_with_warmup"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps, low=warm + 1)
    end = rate(where, "lr_end", lr_end, high=lr, high_open=True)
    p = check(where, "power", power, low=0, low_open=True)
    _epoch(where, last_epoch)
    return _warmed(lr, warm, Poly(lr, steps=total - warm, power=p, final_lr=end))


def get_inverse_sqrt_schedule(
    num_warmup_steps: int, timescale: int | None = None, last_epoch: int = -1, *, base_lr: float
) -> Schedule:
    """Warm up, then ``base_lr / sqrt((t - W + timescale) / timescale)``: `warmup` of `inverse_power`.

    ``timescale`` defaults to ``num_warmup_steps``, or 10 000 without warmup.
    """
    where = "hf.get_inverse_sqrt_schedule"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    scale = (warm or 10_000) if timescale is None else check(where, "timescale", timescale, low=0, low_open=True)
    _epoch(where, last_epoch)
    return _warmed(lr, warm, InversePower(lr, power=0.5, offset=scale, timescale=scale))


def get_cosine_with_min_lr_schedule_with_warmup(
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    *,
    base_lr: float,
) -> Schedule:
    """The cosine of `get_cosine_schedule_with_warmup` from ``base_lr`` down to ``min_lr`` (not 0), not clamped.

    Give ``min_lr``, or ``min_lr_rate`` (a fraction of ``base_lr``), not both.
    """
    where = "hf.get_cosine_with_min_lr_schedule_with_warmup"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps)
    cycles = _num_cycles(where, num_cycles)
    floor = _min_lr(where, lr, min_lr, min_lr_rate)
    _epoch(where, last_epoch)
    return _warmed(lr, warm, _cosine_wave(lr, max(1, total - warm), cycles, floor))


def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    min_lr: float | None = None,
    min_lr_rate: float | None = None,
    warmup_lr_rate: float | None = None,
    *,
    base_lr: float,
) -> Schedule:
    """``cosine_warmup_with_min_lr``: the min-lr cosine with transformers' one-step-ahead counting.

    The warmup reaches ``base_lr`` at ``t = W - 1``: ``base_lr * (t + 1) / W``,
    or from ``warmup_lr_rate * base_lr`` when that is given; the cosine then
    starts one step in, ``p = (t - W + 1) / max(1, N - W)`` (a `skip` of 1),
    so it is already below ``base_lr`` at ``t = W``.
    """
    where = "hf.get_cosine_with_min_lr_schedule_with_warmup_lr_rate"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    total = _steps(where, "num_training_steps", num_training_steps)
    cycles = _num_cycles(where, num_cycles)
    floor = _min_lr(where, lr, min_lr, min_lr_rate)
    _epoch(where, last_epoch)
    after = Skip(_cosine_wave(lr, max(1, total - warm), cycles, floor), steps=1)
    if warm == 0:
        return after
    ramp: Schedule
    if warmup_lr_rate is not None:
        start = lr * rate(where, "warmup_lr_rate", warmup_lr_rate)
        ramp = Linear(start, lr, steps=max(1, warm - 1))
    elif warm == 1:
        ramp = Constant(lr)
    else:
        ramp = Linear(lr / warm, lr, steps=warm - 1)
    return joined([ramp, after], [warm])


_WARMUP_TYPES = ("linear", "cosine", "1-sqrt")


def get_wsd_schedule(
    num_warmup_steps: int,
    num_decay_steps: int,
    num_training_steps: int | None = None,
    num_stable_steps: int | None = None,
    warmup_type: str = "linear",
    decay_type: str = "cosine",
    min_lr_ratio: float = 0,
    num_cycles: float = 0.5,
    last_epoch: int = -1,
    *,
    base_lr: float,
) -> Schedule:
    """Warmup-stable-decay: `wsd` when it fits, else a `join` of its three phases.

    With ``r = min_lr_ratio``: a warmup from ``r * base_lr`` to ``base_lr``
    (``linear``, ``cosine`` or ``1-sqrt``), ``base_lr`` for
    ``num_stable_steps`` (by default ``N - W - num_decay_steps``), a decay to
    ``r * base_lr`` (``linear``, ``cosine`` with ``num_cycles``, or
    ``1-sqrt``), and ``r * base_lr`` after.
    """
    where = "hf.get_wsd_schedule"
    lr = _base(where, base_lr)
    warm = _steps(where, "num_warmup_steps", num_warmup_steps)
    decay = _steps(where, "num_decay_steps", num_decay_steps)
    if num_stable_steps is not None:
        stable = _steps(where, "num_stable_steps", num_stable_steps)
    elif num_training_steps is None:
        raise refuse(where, "num_training_steps", None, "given, or else num_stable_steps")
    else:
        total = _steps(where, "num_training_steps", num_training_steps, low=warm + decay)
        stable = total - warm - decay
    wtype = choice(where, "warmup_type", warmup_type, _WARMUP_TYPES)
    dtype = choice(where, "decay_type", decay_type, _WARMUP_TYPES)
    ratio = check(where, "min_lr_ratio", min_lr_ratio, low=0, high=1)
    cycles = _num_cycles(where, num_cycles)
    _epoch(where, last_epoch)
    floor = lr * ratio
    end = warm + stable + decay
    core_decay = {"linear": "linear", "1-sqrt": "sqrt", "cosine": "cosine"}[dtype]
    if ratio == 0 and wtype == "linear" and decay > 0 and (dtype != "cosine" or cycles == 0.5):
        return WSD(lr, steps=end, warmup_steps=warm, decay_steps=decay, decay=core_decay)

    pieces: list[Schedule] = []
    starts: list[int] = []
    if warm:
        if wtype == "linear":
            pieces.append(Linear(floor, lr, steps=warm))
        elif wtype == "cosine":
            pieces.append(Cosine(floor, steps=warm, final_lr=lr))  # rising: floor at 0, lr at warm
        else:  # 1 - sqrt(1 - p): a rising square-root polynomial
            pieces.append(Poly(floor, steps=warm, power=0.5, final_lr=lr))
        starts.append(0)
    if stable:
        pieces.append(Constant(lr))
        starts.append(warm)
    held = True
    if decay:
        if dtype == "linear":
            pieces.append(Linear(lr, floor, steps=decay))
        elif dtype == "1-sqrt":
            pieces.append(WSD(lr, steps=decay, warmup_steps=0, decay_steps=decay, final_lr=floor, decay="sqrt"))
        elif cycles == 0.5:
            pieces.append(Cosine(lr, steps=decay, final_lr=floor))
        else:
            pieces.append(_cosine_wave(lr, decay, cycles, floor))
            held = False
        starts.append(warm + stable)
    if not held or not decay:
        pieces.append(Constant(floor))
        starts.append(end)
    return joined(pieces, starts[1:])


def get_reduce_on_plateau_schedule(**kwargs: Any) -> Schedule:
    """Refused: transformers' ``ReduceLROnPlateau`` follows a metric; see `lrlab.plateau`."""
    raise refuse("hf.get_reduce_on_plateau_schedule", "name", "reduce_lr_on_plateau", _PLATEAU)


_FUNCTIONS: dict[str, Callable[..., Schedule]] = {
    "get_constant_schedule": get_constant_schedule,
    "get_constant_schedule_with_warmup": get_constant_schedule_with_warmup,
    "get_linear_schedule_with_warmup": get_linear_schedule_with_warmup,
    "get_cosine_schedule_with_warmup": get_cosine_schedule_with_warmup,
    "get_cosine_with_hard_restarts_schedule_with_warmup": get_cosine_with_hard_restarts_schedule_with_warmup,
    "get_polynomial_decay_schedule_with_warmup": get_polynomial_decay_schedule_with_warmup,
    "get_inverse_sqrt_schedule": get_inverse_sqrt_schedule,
    "get_cosine_with_min_lr_schedule_with_warmup": get_cosine_with_min_lr_schedule_with_warmup,
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "get_wsd_schedule": get_wsd_schedule,
}


def get_scheduler(
    name: str,
    num_warmup_steps: int | None = None,
    num_training_steps: int | None = None,
    scheduler_specific_kwargs: Mapping[str, Any] | None = None,
    *,
    base_lr: float,
) -> Schedule:
    """The schedule transformers' ``get_scheduler(name, optimizer, ...)`` makes, by its ``SchedulerType`` name.

    As in transformers: ``constant`` ignores the other arguments;
    ``constant_with_warmup`` and ``inverse_sqrt`` do not take
    ``num_training_steps``; ``warmup_stable_decay`` takes it only to size its
    stable phase; ``scheduler_specific_kwargs`` go to the function (a name it
    does not know is a ``TypeError``, as there).
    """
    where = "hf.get_scheduler"
    if isinstance(name, str) and name in _ADAPTIVE:
        raise refuse(where, "name", name, _PLATEAU)
    kind = choice(where, "name", getattr(name, "value", name), tuple(SCHEDULER_TYPES))
    func = _FUNCTIONS[SCHEDULER_TYPES[kind]]
    if kind == "constant":
        return get_constant_schedule(base_lr=base_lr)
    extra = dict(scheduler_specific_kwargs or {})
    if num_warmup_steps is None:
        raise refuse(where, "num_warmup_steps", None, f"given: {kind!r} needs it")
    if kind == "constant_with_warmup":
        return get_constant_schedule_with_warmup(num_warmup_steps, base_lr=base_lr)
    if kind == "inverse_sqrt":
        return get_inverse_sqrt_schedule(num_warmup_steps, **extra, base_lr=base_lr)
    if kind == "warmup_stable_decay":
        return get_wsd_schedule(
            num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **extra, base_lr=base_lr
        )
    if num_training_steps is None:
        raise refuse(where, "num_training_steps", None, f"given: {kind!r} needs it")
    result: Schedule = func(
        num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **extra, base_lr=base_lr
    )
    return result
