"""The one abstraction: a learning-rate schedule as a pure, immutable value.

A schedule maps ``t`` -- the number of updates (or epochs) already done,
counting from 0 -- to a learning rate. It holds no counter and no optimizer:
calling it never changes it, and the same ``t`` always gives the same rate.
``t`` may be a Python number (a ``float`` comes back) or a NumPy array (a
float64 array of the same shape comes back, computed without a Python loop).

A family says each fact about itself once, beside the thing it is about::

    @family                                       # frozen, slotted dataclass; registered by name
    class Poly(Schedule):
        base_lr: float = arg(low=0)               # each argument with its requirement
        steps: float = arg(low=0, low_open=True)
        power: float = arg(default=1.0, low=0, low_open=True)
        name = "poly"                             # its name in specs, dicts and the CLI

        def horizon(self) -> float | None: ...    # after which t the rate stays put
        def _rates(self, t: FloatArray) -> FloatArray: ...   # the formula, vectorised

`Schedule.__post_init__` checks every argument as its `arg` declares (one
message shape: ``poly: steps must be > 0; got steps=0``) and then calls the
family's `Schedule.__check_init__` for relations between arguments.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, TypeVar, dataclass_transform, overload

import numpy as np
from numpy.typing import NDArray

from lrlab.errors import ScheduleError, invalid
from lrlab.schedules.units import (
    Quantity,
    Unbound,
    has_units,
    is_time,
    looks_like_time,
    parse_quantity,
    unbound_error,
)

# The helpers for writing a family (`family`, `arg`, `register`, the checks) are imported by name.
__all__ = ["Schedule", "REGISTRY"]

FloatArray = NDArray[np.float64]
Steps = float | int | np.integer[Any] | np.floating[Any] | NDArray[Any]

#: The largest float64 (about 1.8e308): a rate that would pass it is held there, never inf.
LARGEST = float(np.finfo(np.float64).max)

#: Every schedule family by its spec name (``"cosine"`` -> ``Cosine``).
REGISTRY: dict[str, type[Schedule]] = {}

S = TypeVar("S", bound="type[Schedule]")
F = TypeVar("F", bound="Schedule")

#: what an argument is: one number, a list of numbers, one of some strings, a bool, a schedule, a list of them
Kind = Literal["number", "numbers", "choice", "flag", "schedule", "schedules"]
Order = Literal["", "increasing", "nondecreasing"]

_REQUIREMENT = "lrlab.requirement"  # the key of a field's `Requirement` in its metadata


def register(cls: S) -> S:
    """Class decorator: make a family known to `parse`, `from_dict` and the CLI."""
    REGISTRY[cls.name] = cls
    return cls


class Schedule:
    """Base of every schedule family: ``lr = schedule(t)``.

    Subclasses are made with `family`: they declare each argument with `arg`,
    may check relations between arguments in `__check_init__`, and implement
    `horizon` and ``_rates(t)`` for a float64 array ``t >= 0``.
    """

    __slots__ = ()
    #: the name used in text specs and dicts
    name: ClassVar[str] = "schedule"

    # -- construction ---------------------------------------------------------
    def __post_init__(self) -> None:
        """Check every argument as its field declares, store it normalised, then check the relations."""
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            need: Requirement = field.metadata[_REQUIREMENT]
            object.__setattr__(self, field.name, need.check(self.name, field.name, getattr(self, field.name)))
        with contextlib.suppress(Unbound):  # a relation between times of different units: lrlab.bind checks it
            self.__check_init__()

    def __check_init__(self) -> None:
        """Check the relations between arguments, each already valid on its own (none by default)."""

    # -- evaluation ---------------------------------------------------------
    @overload
    def __call__(self, t: float | int | np.integer[Any] | np.floating[Any]) -> float: ...
    @overload
    def __call__(self, t: NDArray[Any]) -> FloatArray: ...

    def __call__(self, t: Steps) -> float | FloatArray:
        """The learning rate after ``t`` updates (``t >= 0``, finite).

        ``t`` is read as a float64: an integer past 2**53 rounds to the nearest float, and one past
        the largest float (about 1.8e308) is refused like ``inf``. A 0-d ``t`` -- a Python or NumPy
        scalar, or a 0-d array -- gives a Python float (as ``np.sin`` answers a 0-d array with a
        scalar); an array of any other shape gives a float64 array of that shape. Every rate is
        finite: one that would pass the largest float is held there (`LARGEST`), as the families
        that can grow that far say in their docstrings.
        """
        if has_units(self):
            raise unbound_error(self)
        if isinstance(t, np.ndarray):
            steps = _checked_steps(t)
            if steps.ndim == 0:
                return _held(float(self._quiet_rates(steps.reshape(1))[0]))
            rates = self._quiet_rates(steps)
            return np.minimum(rates, LARGEST, out=rates)
        if isinstance(t, numbers.Real) and not isinstance(t, bool):
            try:
                x = float(t)
            except OverflowError:  # an int (or a Fraction) past the largest float
                x = math.inf
            if not (math.isfinite(x) and x >= 0.0):
                raise ScheduleError(f"t must be finite and >= 0; got t={_brief(t)!r}")
            return _held(float(self._quiet_rates(np.array([x]))[0]))
        raise ScheduleError(f"t must be a number or a NumPy array; got t={t!r}")

    def _quiet_rates(self, t: FloatArray) -> FloatArray:
        """`_rates` with NumPy's overflow and divide-by-zero warnings off.

        At extreme arguments or ``t`` a formula may overflow on the way (``t / every`` past the
        largest float, say); each family turns that into its documented finite limit. Invalid
        operations (the ones that make NaN) still warn: a NaN rate is a bug.
        """
        with np.errstate(over="ignore", divide="ignore"):
            return self._rates(t)

    def _rates(self, t: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        """The rates at the checked float64 steps `t`, vectorised.

        The contract every family keeps: never write into `t`, and return a *new* array that the
        caller owns (combinators such as `warmup` write into it instead of copying it).
        """
        raise NotImplementedError

    def horizon(self) -> float | None:  # pragma: no cover - abstract
        """A ``t`` after which the rate never changes, or None if it never settles.

        It may be later than the first such ``t``. Each family states its own (there is no
        default): the Keras and optax adapters tabulate the rates up to it.
        """
        raise NotImplementedError(f"{type(self).__name__} must define horizon()")

    def curve(self, steps: int) -> FloatArray:
        """The rates at ``t = 0, 1, ..., steps - 1`` (for plots and tables)."""
        return self(np.arange(int(steps), dtype=np.float64))

    # -- text and data forms --------------------------------------------------
    def __str__(self) -> str:
        """The canonical spec, e.g. ``cosine(0.3, steps=15, final_lr=0.01)``."""
        return self._call_text("")

    def __repr__(self) -> str:
        """The Python call that builds it again: ``eval(repr(s), {"lrlab": lrlab}) == s``."""
        return self._call_text("lrlab.")

    def _call_text(self, prefix: str) -> str:
        """The call with its first argument by position and the others by name unless at their default."""
        parts: list[str] = []
        for i, field in enumerate(dataclasses.fields(self)):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if i == 0:
                parts.append(_format(value, prefix))
            elif not _is_default(field, value):
                parts.append(f"{field.name}={_format(value, prefix)}")
        return f"{prefix}{self.name}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"type": name, <argument>: <value>, ...}``."""
        out: dict[str, Any] = {"type": self.name}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            out[field.name] = _to_data(getattr(self, field.name))
        return out


def _checked_steps(t: NDArray[Any]) -> FloatArray:
    if t.dtype == np.bool_ or not (np.issubdtype(t.dtype, np.number)):
        raise ScheduleError(f"t must hold real numbers; got an array of dtype {t.dtype}")
    if np.iscomplexobj(t):
        raise ScheduleError(f"t must hold real numbers; got an array of dtype {t.dtype}")
    with np.errstate(over="ignore"):  # a longdouble past the largest float64 becomes inf, refused below
        steps = np.asarray(t, dtype=np.float64)
    # two reductions instead of elementwise masks: min is NaN when any value is, max is inf when any is
    if steps.size and not (steps.min() >= 0.0 and np.isfinite(steps.max())):
        bad = ~np.isfinite(steps) | (steps < 0)
        first = float(steps[bad].flat[0])
        raise ScheduleError(f"t must be finite and >= 0; got t={first!r} in the array")
    return steps


def _held(rate: float) -> float:
    """A scalar rate, held at `LARGEST` if it passed it (NaN stays NaN: that is a bug to see)."""
    return LARGEST if rate == math.inf else rate


class _Brief:
    """A value shown by a short text in an error message (`invalid` shows its argument's repr)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _brief(value: Any) -> Any:
    """`value`, or for an int past the largest float a stand-in that gives its size, not its digits.

    (Python refuses to print an int of more than 4300 digits, and 400 digits help nobody.)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) > LARGEST:
        return _Brief(f"<an int of {math.floor(math.log10(abs(int(value)))) + 1} digits>")
    return value


def _is_default(field: dataclasses.Field[Any], value: Any) -> bool:
    if field.default is dataclasses.MISSING:
        return False
    default = field.default
    return bool(type(default) is type(value) and default == value)


def _format(value: Any, prefix: str) -> str:
    if isinstance(value, Schedule):
        return value._call_text(prefix)
    if isinstance(value, Quantity):
        return json.dumps(str(value))
    if isinstance(value, tuple):
        return "[" + ", ".join(_format(v, prefix) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _to_data(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, Quantity):
        return str(value)
    if isinstance(value, tuple):
        return [_to_data(v) for v in value]
    return value


# -- declaring a family ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Requirement:
    """What one argument of a family must be, as declared by `arg`."""

    kind: Kind = "number"
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    choices: tuple[str, ...] = ()
    order: Order = ""
    #: None is allowed (the argument's default is None)
    optional: bool = False
    #: it counts time: a `Quantity` (``"500ba"``, ``"30ep"``, ``"0.2dur"``) is accepted too
    time: bool = False

    def check(self, where: str, name: str, value: Any) -> Any:
        """The value, normalised (a plain ``int``/``float``, a `Quantity`, a tuple for a list), or the error."""
        if value is None and self.optional:
            return None
        if self.kind == "number":
            low, high = self.low, self.high
            if is_time(value):
                return self._time(where, name, value)
            return number(where, name, value, low=low, low_open=self.low_open, high=high, high_open=self.high_open)
        if self.kind == "numbers":
            return numbers_tuple(where, name, value, low=self.low, order=self.order, time=self.time)
        if self.kind == "choice":
            return choice(where, name, value, self.choices)
        if self.kind == "flag":
            return flag(where, name, value)
        if self.kind == "schedule":
            return schedule(where, name, value)
        return schedules_tuple(where, name, value)

    def _time(self, where: str, name: str, value: Any) -> Quantity:
        if not self.time:
            if looks_like_time(value):
                raise invalid(name, value, "a number (it does not count time, so it takes no unit)", where=where)
            raise invalid(name, value, "a number", where=where)
        q = parse_quantity(where, name, value)
        # the bounds of the count hold for the time in any unit (times are >= 0; none has an upper bound)
        try:
            number(where, name, q.value, low=self.low, low_open=self.low_open, high=self.high, high_open=self.high_open)
        except ScheduleError as exc:
            raise ScheduleError(str(exc).replace(f"got {name}={q.value!r}", f"got {name}={str(q)!r}")) from None
        return q


def arg(
    *,
    default: Any = dataclasses.MISSING,
    kind: Kind | None = None,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
    choices: tuple[str, ...] = (),
    order: Order = "",
    time: bool = False,
) -> Any:
    """Declare a family's argument: its default (none: required) and what it must be.

    ``kind`` defaults to ``"choice"`` when ``choices`` are given, ``"flag"`` for a
    bool default, else ``"number"`` (bounded by ``low``/``high``, open or closed);
    a default of None also allows None. ``time=True`` marks an argument that counts
    time (steps, a period, milestones): it also takes a `Quantity` such as ``"30ep"``
    (see `lrlab.schedules.units`). ``default`` is a keyword so that type checkers see
    which arguments are required.
    """
    if kind is None:
        kind = "choice" if choices else "flag" if isinstance(default, bool) else "number"
    need = Requirement(kind, low, low_open, high, high_open, choices, order, optional=default is None, time=time)
    return dataclasses.field(default=default, metadata={_REQUIREMENT: need})


@dataclass_transform(frozen_default=True, field_specifiers=(arg,))
def family(cls: type[F]) -> type[F]:
    """Class decorator for a schedule family: a frozen dataclass with slots, registered by its ``name``.

    Every field must be declared with `arg`, so none goes unchecked.
    """
    made = dataclasses.dataclass(frozen=True, slots=True, repr=False)(cls)
    for field in dataclasses.fields(made):  # type: ignore[arg-type]
        if _REQUIREMENT not in field.metadata:
            raise TypeError(f"{cls.__name__}.{field.name} must be declared with arg() to say what it accepts")
    own = vars(made).get("horizon")
    if own is not None and not getattr(own, "_guarded", False):
        made.horizon = _bound_only(own)  # type: ignore[method-assign]
    return register(made)


def _bound_only(horizon: Any) -> Any:
    """`horizon` that first refuses an unbound schedule (its times with units mean nothing yet)."""

    @functools.wraps(horizon)
    def guarded(self: Schedule) -> float | None:
        if has_units(self):
            raise unbound_error(self)
        result: float | None = horizon(self)
        return result

    guarded._guarded = True  # type: ignore[attr-defined]
    return guarded


# -- argument checks shared by all families ---------------------------------------


def number(
    where: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    low_open: bool = False,
    high: float | None = None,
    high_open: bool = False,
    integer: bool = False,
) -> Any:
    """Check a real-valued argument and return it as a plain ``int`` or ``float``.

    Integers stay integers (so specs print ``steps=15``, not ``steps=15.0``);
    ``bool`` is refused because ``True`` is not a learning rate.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(name, value, "a number", where=where)
    if isinstance(value, numbers.Integral):
        plain: int | float = int(value)
        try:
            as_float = float(plain)
        except OverflowError:
            raise invalid(name, _brief(value), "a finite number", where=where) from None
    else:
        if integer:
            raise invalid(name, value, "an integer", where=where)
        plain = as_float = float(value)
    if integer and not isinstance(plain, int):
        raise invalid(name, value, "an integer", where=where)
    if not math.isfinite(as_float):
        raise invalid(name, value, "a finite number", where=where)
    if low is not None:
        if low_open and not as_float > low:
            raise invalid(name, value, f"> {low:g}", where=where)
        if not low_open and not as_float >= low:
            raise invalid(name, value, f">= {low:g}", where=where)
    if high is not None:
        if high_open and not as_float < high:
            raise invalid(name, value, f"< {high:g}", where=where)
        if not high_open and not as_float <= high:
            raise invalid(name, value, f"<= {high:g}", where=where)
    return plain


def numbers_tuple(
    where: str, name: str, value: Any, *, low: float | None = None, order: str = "", time: bool = False
) -> tuple[Any, ...]:
    """Check a list of numbers; ``order`` is ``""``, ``"increasing"`` or ``"nondecreasing"``.

    With ``time=True`` an item may be a `Quantity` (``"30ep"``); the order of two times of
    different units is checked once they are bound.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise invalid(name, value, "a list of numbers", where=where)
    need = Requirement("number", low=low, time=time)
    items = tuple(need.check(where, f"{name}[{i}]", v) for i, v in enumerate(value))
    for i in range(1, len(items)):
        try:
            increasing, nondecreasing = items[i] > items[i - 1], items[i] >= items[i - 1]
        except Unbound:
            continue
        if order == "increasing" and not increasing:
            raise invalid(name, _shown(items), "strictly increasing", where=where)
        if order == "nondecreasing" and not nondecreasing:
            raise invalid(name, _shown(items), "in non-decreasing order", where=where)
    return items


def _shown(items: tuple[Any, ...]) -> list[Any]:
    return [str(v) if isinstance(v, Quantity) else v for v in items]


def choice(where: str, name: str, value: Any, options: Sequence[str]) -> str:
    """Check a string argument against its allowed values."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise invalid(name, value, f"one of {listed}", where=where)
    return value


def flag(where: str, name: str, value: Any) -> bool:
    """Check a boolean argument (``True``/``False`` only, not 0/1)."""
    if not isinstance(value, bool | np.bool_):
        raise invalid(name, value, "True or False", where=where)
    return bool(value)


def schedule(where: str, name: str, value: Any) -> Schedule:
    """Check that an argument is a schedule."""
    if not isinstance(value, Schedule):
        raise invalid(name, value, "a schedule", where=where)
    return value


def schedules_tuple(where: str, name: str, value: Any) -> tuple[Schedule, ...]:
    """Check a non-empty list of schedules (the pieces of a ``join``)."""
    if isinstance(value, Schedule | str | bytes) or not isinstance(value, Sequence) or not value:
        raise invalid(name, value, "a non-empty list of schedules", where=where)
    return tuple(schedule(where, f"{name}[{i}]", s) for i, s in enumerate(value))


def optional_count(where: str, name: str, value: Any) -> int | None:
    """None, or a whole number of updates > 0 (``steps``, ``steps_per_epoch`` of the adapters)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise invalid(name, value, "an integer > 0", where=where)
    return int(value)
