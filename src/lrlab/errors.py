"""Errors raised by lrlab, and the one helper that builds their messages.

Every message names the argument and the bad value, in the shape
``steps must be > 0; got steps=0``, so a user can find the typo at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["ScheduleError", "SpecError", "invalid", "closest_names"]


class ScheduleError(ValueError):
    """A schedule was given an argument it cannot work with."""


class SpecError(ScheduleError):
    """A text or dict spec is not a valid schedule."""


def invalid(name: str, value: Any, requirement: str, *, where: str = "") -> ScheduleError:
    """Build the error for argument `name` whose `value` breaks `requirement`.

    >>> str(invalid("steps", 0, "> 0"))
    'steps must be > 0; got steps=0'
    """
    prefix = f"{where}: " if where else ""
    return ScheduleError(f"{prefix}{name} must be {requirement}; got {name}={value!r}")


def closest_names(word: str, choices: Iterable[str]) -> str:
    """A readable hint listing the valid names closest to `word`."""
    pool = sorted(choices)
    near = difflib.get_close_matches(word, pool, n=3, cutoff=0.5)
    if near:
        return "did you mean " + " or ".join(repr(n) for n in near) + "?"
    return "valid names are " + ", ".join(pool)
