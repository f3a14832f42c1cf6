"""Argument checks and small builders shared by the compat modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lrlab.errors import LrlabError, invalid
from lrlab.schedules import Join, Schedule, Warmup
from lrlab.schedules.base import flag, number, numbers_tuple, schedules_tuple

__all__ = [
    "plain",
    "check",
    "rate",
    "check_int",
    "check_flag",
    "check_list",
    "check_schedules",
    "joined",
    "join_checked",
    "warmed",
    "refuse",
]


def plain(x: float) -> int | float:
    """A whole float as an ``int`` (``17.0`` -> ``17``) so specs print as the user wrote them."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 2**53:
        return int(x)
    return x


def check(where: str, name: str, value: Any, **bounds: Any) -> Any:
    """`lrlab.schedules.base.number` under the peer's name for the argument."""
    return number(where, name, value, **bounds)


def rate(where: str, name: str, value: Any, **bounds: Any) -> float:
    """A learning rate (``>= 0`` unless ``bounds`` say otherwise), as a ``float``."""
    bounds.setdefault("low", 0)
    return float(number(where, name, value, **bounds))


def check_int(where: str, name: str, value: Any, *, low: int | None = None) -> int:
    """A whole number (``int``, or a ``float`` such as ``10.0``) at or above ``low``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    result: int = number(where, name, value, low=low, integer=True)
    return result


def check_flag(where: str, name: str, value: Any) -> bool:
    return flag(where, name, value)


def check_list(where: str, name: str, value: Any, *, low: float | None = None, order: str = "") -> tuple[Any, ...]:
    return numbers_tuple(where, name, value, low=low, order=order)


def check_schedules(where: str, name: str, value: Any) -> tuple[Schedule, ...]:
    """A non-empty list of lrlab schedules (the output of other compat calls)."""
    return schedules_tuple(where, name, value)


def refuse(where: str, name: str, value: Any, requirement: str) -> LrlabError:
    """The error for a peer argument lrlab cannot reproduce, in the standard shape."""
    return invalid(name, value, requirement, where=where)


def joined(pieces: Sequence[Schedule], boundaries: Sequence[float]) -> Schedule:
    """``join`` that, like torch and optax, lets a later piece take over at once.

    A boundary at 0, or two equal boundaries, leave a piece no steps: the peer
    never runs it, so it is dropped here too. Boundaries must be >= 0 and in
    non-decreasing order (checked by the caller).
    """
    kept: list[Schedule] = []
    starts: list[float] = []
    edges = [0.0, *(float(b) for b in boundaries)]
    for k, piece in enumerate(pieces):
        end = edges[k + 1] if k + 1 < len(edges) else None
        if end is not None and end <= edges[k]:
            continue  # an empty interval: never used
        kept.append(piece)
        starts.append(edges[k])
    if len(kept) == 1:
        return kept[0]
    return Join(tuple(kept), tuple(plain(s) for s in starts[1:]))


def join_checked(where: str, pieces: tuple[str, Any], boundaries: tuple[str, Any]) -> Schedule:
    """`joined` of the peer's ``(name, value)`` pieces and boundaries, checked under the peer's names.

    Boundaries must be >= 0, in non-decreasing order and one fewer than the pieces.
    """
    (pieces_name, given_pieces), (bounds_name, given_bounds) = pieces, boundaries
    items = check_schedules(where, pieces_name, given_pieces)
    bounds = check_list(where, bounds_name, given_bounds, low=0, order="nondecreasing")
    if len(bounds) != len(items) - 1:
        need = f"of length {len(items) - 1} (one fewer than {pieces_name})"
        raise refuse(where, bounds_name, list(bounds), need)
    return joined(items, bounds)


def warmed(decay: Schedule, steps: float, start_lr: float, mode: str = "linear") -> Schedule:
    """``warmup(decay, steps, start_lr)``, or `decay` itself when there are no warmup steps."""
    return decay if steps == 0 else Warmup(decay, steps=steps, start_lr=start_lr, mode=mode)
