"""Time with units: ``"500ba"`` updates, ``"30ep"`` epochs, ``"0.2dur"`` of the run (composer's names).

Any argument of a family that counts time (``steps``, ``warmup_steps``,
``period``, ``milestones``, ...; declared ``arg(..., time=True)``) takes a
plain number -- a count on the job's clock, as always -- or a `Quantity`,
written ``"90ep"`` in a spec or ``Quantity(90, "ep")`` in Python::

    warmup(cosine(0.1, steps="90ep"), steps="500ba")

A schedule holding a quantity is *unbound*: it cannot be evaluated until
`bind` puts it on a job's clock, where one unit of ``t`` is an update
(``per="step"``) or an epoch (``per="epoch"``):

=========  ===================================  ==========================
unit       per step (t counts updates)          per epoch (t counts epochs)
=========  ===================================  ==========================
``Nba``    ``N``                                ``N / steps_per_epoch``
``Nep``    ``N * steps_per_epoch``              ``N``
``Fdur``   ``F * epochs * steps_per_epoch``     ``F * epochs``
=========  ===================================  ==========================

The products are exact (``0.1dur`` of 3 epochs of 100 updates is 30, not
30.000000000000004): a milestone lands on the update it names.

>>> import lrlab
>>> s = lrlab.warmup(lrlab.cosine(0.1, steps="90ep"), steps="500ba")
>>> s
lrlab.warmup(lrlab.cosine(0.1, steps="90ep"), steps="500ba")
>>> bind(s, per="step", steps_per_epoch=100, epochs=95)
lrlab.warmup(lrlab.cosine(0.1, steps=9000), steps=500)
>>> bind(s, per="epoch", steps_per_epoch=100)
lrlab.warmup(lrlab.cosine(0.1, steps=90), steps=5)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lrlab.errors import ScheduleError, invalid

if TYPE_CHECKING:
    from lrlab.schedules.base import Schedule

__all__ = ["Quantity", "bind", "has_units"]

#: each unit and what it counts
UNITS: dict[str, str] = {"ba": "updates", "ep": "epochs", "dur": "fractions of the run"}
#: a job's clocks, as `lrlab.TrainConfig.per` names them
PERS = ("step", "epoch")

_TEXT = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z_]+)\s*")
_INTEGER = re.compile(r"[+-]?\d+")

ACCEPTED = 'a number or a time such as "500ba" (updates), "30ep" (epochs) or "0.2dur" (fraction of the run)'


class Unbound(ScheduleError):
    """A value with a unit was used where only a number on the job's clock will do: bind it first.

    Raised by evaluating an unbound schedule, and by comparing times of different units; a
    family's relation check (`Schedule.__check_init__`) that meets it is left to `bind`.
    """


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Quantity:
    """A length of time in a unit: ``Quantity(500, "ba")``, ``Quantity(30, "ep")``, ``Quantity(0.2, "dur")``.

    Also read from text: ``Quantity("500ba")``. Its text form, ``str(q)``, is what a spec
    holds (``"500ba"``). Times of one unit add, subtract and compare; anything that needs a
    number on the job's clock (``float(q)``, a comparison with another unit) raises `Unbound`.

    >>> Quantity("0.2dur"), str(Quantity(500, "ba"))
    (lrlab.Quantity(0.2, "dur"), '500ba')
    """

    value: int | float
    unit: str

    def __init__(self, value: Any, unit: str | None = None) -> None:
        if unit is None:
            parsed = parse_quantity("quantity", "value", value)
            value, unit = parsed.value, parsed.unit
        elif unit not in UNITS:
            raise invalid("unit", unit, _unit_list(), where="Quantity")
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise invalid("value", value, "a number >= 0", where="Quantity")
        plain: int | float = int(value) if isinstance(value, numbers.Integral) else float(value)
        if not (math.isfinite(plain) and plain >= 0):
            raise invalid("value", value, "a finite number >= 0 (a length of time)", where="Quantity")
        object.__setattr__(self, "value", plain)
        object.__setattr__(self, "unit", unit)

    @classmethod
    def _unchecked(cls, value: int | float, unit: str) -> Quantity:
        """A result of arithmetic (may be negative: ``steps - warmup_steps`` in a message)."""
        q = object.__new__(cls)
        object.__setattr__(q, "value", value)
        object.__setattr__(q, "unit", unit)
        return q

    def __str__(self) -> str:
        return f"{self.value!r}{self.unit}"

    def __repr__(self) -> str:
        return f'lrlab.Quantity({self.value!r}, "{self.unit}")'

    def __format__(self, spec: str) -> str:
        return f"{format(self.value, spec)}{self.unit}"

    # -- arithmetic and order within one unit (what relation checks need) ----------------------
    def _other(self, other: Any) -> int | float:
        if isinstance(other, Quantity) and other.unit == self.unit:
            return other.value
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 0:
            return 0  # zero is zero on every clock
        raise Unbound(f"{self} and {other} cannot be compared before the schedule is bound (lrlab.bind)")

    def __add__(self, other: Any) -> Quantity:
        return Quantity._unchecked(self.value + self._other(other), self.unit)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Quantity:
        return Quantity._unchecked(self.value - self._other(other), self.unit)

    def __rsub__(self, other: Any) -> Quantity:
        return Quantity._unchecked(self._other(other) - self.value, self.unit)

    def __lt__(self, other: Any) -> bool:
        return self.value < self._other(other)

    def __le__(self, other: Any) -> bool:
        return self.value <= self._other(other)

    def __gt__(self, other: Any) -> bool:
        return self.value > self._other(other)

    def __ge__(self, other: Any) -> bool:
        return self.value >= self._other(other)

    def __float__(self) -> float:
        raise Unbound(f"{self} is not a number on the job's clock until the schedule is bound (lrlab.bind)")

    # -- onto a clock -------------------------------------------------------------------------
    def on_clock(
        self, per: str, steps_per_epoch: int | None, epochs: int | None, *, name: str = "", where: str = "bind"
    ) -> int | float:
        """This time as a count of `per` (``"step"``: updates, ``"epoch"``: epochs), exactly.

        >>> Quantity(0.2, "dur").on_clock("step", 100, 95), Quantity(250, "ba").on_clock("epoch", 100, None)
        (1900, 2.5)
        """
        label = f'{name}="{self}"' if name else f'"{self}"'
        target = "updates" if per == "step" else "epochs"

        def need(arg: str, value: int | None) -> int:
            if value is None:
                what = f"given to turn {label} ({UNITS[self.unit]}) into {target}"
                raise invalid(arg, None, what, where=where)
            return value

        # the decimal the user wrote (0.2 is 1/5), not the binary float nearest to it
        amount = Fraction(self.value) if isinstance(self.value, int) else Fraction(repr(self.value))
        if self.unit == "ba":
            factor = Fraction(1) if per == "step" else Fraction(1, need("steps_per_epoch", steps_per_epoch))
        elif self.unit == "ep":
            factor = Fraction(need("steps_per_epoch", steps_per_epoch)) if per == "step" else Fraction(1)
        else:
            runs = need("epochs", epochs)
            factor = Fraction(runs * need("steps_per_epoch", steps_per_epoch) if per == "step" else runs)
        count = amount * factor
        if count.denominator == 1:
            return int(count)
        try:
            return float(count)
        except OverflowError:
            raise invalid(name or "time", str(self), f"at most {1.8e308:g} {target} once bound", where=where) from None


def _unit_list() -> str:
    return "one of " + ", ".join(f"{u!r} ({what})" for u, what in UNITS.items())


def parse_quantity(where: str, name: str, value: Any) -> Quantity:
    """A `Quantity` from ``"500ba"``-style text (or a `Quantity`), or the error naming argument `name`."""
    if isinstance(value, Quantity):
        return value
    if not isinstance(value, str):
        raise invalid(name, value, ACCEPTED, where=where)
    match = _TEXT.fullmatch(value)
    if match is None:
        raise invalid(name, value, ACCEPTED, where=where)
    number, unit = match.groups()
    if unit not in UNITS:
        raise invalid(name, value, f"{ACCEPTED}; the units are ba, ep and dur", where=where)
    amount: int | float = int(number) if _INTEGER.fullmatch(number) else float(number)
    if not (math.isfinite(amount) and amount >= 0):
        raise invalid(name, value, "a finite time >= 0", where=where)
    return Quantity(amount, unit)


def looks_like_time(value: Any) -> bool:
    """True for a `Quantity` or text that reads as one (``"30ep"``), to say why a number refuses it."""
    if isinstance(value, str):
        match = _TEXT.fullmatch(value)
        return match is not None and match.group(2) in UNITS
    return isinstance(value, Quantity)


def is_time(value: Any) -> bool:
    """True for what a time argument takes besides a number: a `Quantity` or its text."""
    return isinstance(value, Quantity | str)


# -- unbound schedules --------------------------------------------------------------------


def _fields(schedule: Any) -> tuple[str, ...]:
    names = _FIELDS.get(type(schedule))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(schedule)) if dataclasses.is_dataclass(schedule) else ()
        _FIELDS[type(schedule)] = names
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}


def _times(schedule: Any, path: str = "") -> Iterator[tuple[str, Quantity]]:
    """Every quantity in `schedule` and the schedules inside it, with where it is (``cosine.steps``)."""
    from lrlab.schedules.base import Schedule

    here = f"{path}{schedule.name}" if isinstance(schedule, Schedule) else path
    for name in _fields(schedule):
        value = getattr(schedule, name)
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            label = f"{here}.{name}" + (f"[{i}]" if isinstance(value, tuple) else "")
            if isinstance(item, Quantity):
                yield label, item
            elif isinstance(item, Schedule):
                yield from _times(item, f"{label} -> ")


def has_units(schedule: Schedule) -> bool:
    """True when `schedule` (or a schedule inside it) holds a time with a unit: `bind` it before use.

    >>> import lrlab
    >>> has_units(lrlab.cosine(0.1, steps="90ep")), has_units(lrlab.cosine(0.1, steps=90))
    (True, False)
    """
    # called before every evaluation: only the fields that can hold a time or a schedule are looked at
    names = _MAY_HOLD.get(type(schedule))
    if names is None:
        names = _MAY_HOLD[type(schedule)] = _may_hold(schedule)
    for name in names:
        value = getattr(schedule, name)
        kind = type(value)
        if kind is Quantity:
            return True
        if kind is tuple:
            for item in value:
                if type(item) is Quantity or (not isinstance(item, numbers.Number) and has_units(item)):
                    return True
        elif value is not None and not isinstance(value, numbers.Number) and has_units(value):
            return True
    return False


def _may_hold(schedule: Any) -> tuple[str, ...]:
    """The fields of `schedule`'s family declared as times or schedules (all fields if undeclared)."""
    if not dataclasses.is_dataclass(schedule):
        return ()
    from lrlab.schedules.base import Requirement  # base imports this module

    names = []
    for field in dataclasses.fields(schedule):
        need = field.metadata.get("lrlab.requirement")
        # a field with its own kind of check (WSD's decay: a name or a schedule) may hold a schedule too
        custom = need is not None and type(need) is not Requirement
        if need is None or custom or need.time or need.kind in ("schedule", "schedules"):
            names.append(field.name)
    return tuple(names)


_MAY_HOLD: dict[type, tuple[str, ...]] = {}


def needs(schedule: Schedule, per: str) -> dict[str, str]:
    """What binding `schedule` on the clock `per` needs: ``{"steps_per_epoch"|"epochs": the first time needing it}``.

    >>> import lrlab
    >>> needs(lrlab.warmup(lrlab.cosine(0.1, steps="0.9dur"), steps="500ba"), "epoch")
    {'epochs': 'warmup.schedule -> cosine.steps="0.9dur"', 'steps_per_epoch': 'warmup.steps="500ba"'}
    """
    wanted: dict[str, str] = {}
    for where, q in _times(schedule):
        label = f'{where}="{q}"'
        if q.unit == "dur":
            wanted.setdefault("epochs", label)
        if (
            (q.unit == "ep" and per == "step")
            or (q.unit == "ba" and per == "epoch")
            or (q.unit == "dur" and per == "step")
        ):
            wanted.setdefault("steps_per_epoch", label)
    return wanted


def unbound_error(schedule: Schedule) -> Unbound:
    """The error for using `schedule` before binding: which arguments have units, and how to bind it."""
    found = [f'{where}="{q}"' for where, q in _times(schedule)]
    have = "has a unit" if len(found) == 1 else "have units"
    return Unbound(
        f"{schedule} is not bound to a clock: {', '.join(found)} {have}; bind it first with "
        'lrlab.bind(schedule, per="step" or "epoch", steps_per_epoch=..., epochs=...) '
        "(lrlab train and the adapters do it when given per=, steps_per_epoch= and epochs=)"
    )


def bind(
    schedule: Schedule | str | Mapping[str, Any],
    *,
    per: str,
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
) -> Schedule:
    """The schedule on a job's clock: every time with a unit turned into a count of `per`.

    ``per="step"``: ``t`` counts updates (``Nba -> N``, ``Nep -> N * steps_per_epoch``,
    ``Fdur -> F * epochs * steps_per_epoch``); ``per="epoch"``: ``t`` counts epochs
    (``Nba -> N / steps_per_epoch``, ``Nep -> N``, ``Fdur -> F * epochs``). Plain numbers are
    already on the job's clock and stay as they are; schedules inside are bound too, and every
    argument is checked again, relations between times of different units included. A schedule
    with no units is refused (bind once; `has_units` says whether to).

    >>> import lrlab
    >>> bind(lrlab.multi_factor(0.1, milestones=["0.5dur", "0.75dur"], factor=0.1), per="epoch", epochs=90)
    lrlab.multi_factor(0.1, milestones=[45, 67.5], factor=0.1)
    """
    from lrlab.schedules.spec import as_schedule

    s = as_schedule(schedule, where="bind")
    if not has_units(s):
        raise ScheduleError(
            f"bind: {s} has no time with a unit (ba, ep, dur) to bind; it is already on the job's clock "
            "(check lrlab.has_units(schedule) before binding)"
        )
    return _checked_bind(s, per, steps_per_epoch, epochs, "bind")


def bind_if_needed(
    schedule: Schedule, *, per: str | None, steps_per_epoch: int | None, epochs: int | None, where: str
) -> Schedule:
    """An adapter's schedule, bound when it has units; `where` (the adapter) names itself in errors.

    ``per=None`` is an adapter's older clock: plain ``t`` counts, or epochs counted in fractions when
    ``steps_per_epoch`` is given; a schedule with units is then bound per epoch, and needs
    ``steps_per_epoch`` (else the error asks for ``per=``).
    """
    if per is not None:
        from lrlab.schedules.base import choice

        choice(where, "per", per, PERS)
    if not has_units(schedule):
        return schedule
    if per is None:
        if steps_per_epoch is None:
            raise ScheduleError(
                f'{where}: {schedule} has times with units; pass per="step" or per="epoch" (what one step of '
                "this scheduler is) and steps_per_epoch=, epochs= as its units need, to bind them"
            )
        per = "epoch"
    return _checked_bind(schedule, per, steps_per_epoch, epochs, where)


def _checked_bind(s: Schedule, per: Any, steps_per_epoch: Any, epochs: Any, where: str) -> Schedule:
    from lrlab.schedules.base import choice, optional_count

    clock = choice(where, "per", per, PERS)
    spe = optional_count(where, "steps_per_epoch", steps_per_epoch)
    runs = optional_count(where, "epochs", epochs)
    return _bind(s, clock, spe, runs, where)


def _bind(s: Schedule, per: str, spe: int | None, epochs: int | None, where: str = "bind") -> Schedule:
    from lrlab.schedules.base import Schedule

    if not has_units(s):
        return s

    def onto(value: Any, name: str) -> Any:
        if isinstance(value, Quantity):
            return value.on_clock(per, spe, epochs, name=f"{s.name}.{name}", where=where)
        if isinstance(value, Schedule):
            return _bind(value, per, spe, epochs, where)
        if isinstance(value, tuple):
            return tuple(onto(v, f"{name}[{i}]") for i, v in enumerate(value))
        return value

    changes = {name: onto(getattr(s, name), name) for name in _fields(s)}
    try:
        return type(s)(**changes)
    except Unbound:  # pragma: no cover - every quantity was converted above
        raise
    except ScheduleError as exc:
        raise type(exc)(f"{exc} (once {s} is bound per {per})") from None
