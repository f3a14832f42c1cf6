"""Errors raised by lrlab, and the one helper that builds their messages.

One root, `LrlabError` (a ``ValueError``), and one child per layer, so a
caller can catch what it can handle::

    LrlabError
    ├── ScheduleError       a schedule's argument (schedules, frameworks)
    │   └── SpecError       a text or dict spec that is not a schedule
    ├── LabError            training runs and their results (lab)
    │   ├── DataError       a data file missing, truncated or of the wrong kind
    │   ├── ExperimentError an experiment that cannot be built or does not fit
    │   ├── TrainError      a job that cannot start or resume as asked
    │   └── ResultsError    a results folder lrlab cannot read
    └── SweepError          a sweep, its template, grid or results (sweeps)

Every message names the argument and the bad value, in the shape
``steps must be > 0; got steps=0``, so a user can find the typo at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "LrlabError",
    "ScheduleError",
    "SpecError",
    "LabError",
    "DataError",
    "ExperimentError",
    "TrainError",
    "ResultsError",
    "SweepError",
]


class LrlabError(ValueError):
    """Anything lrlab refuses: bad input, missing data, a job it cannot run (the message says which)."""


class ScheduleError(LrlabError):
    """A schedule was given an argument it cannot work with."""


class SpecError(ScheduleError):
    """A text or dict spec is not a valid schedule."""


class LabError(LrlabError):
    """A training run, its data or its results cannot be used as asked."""


class DataError(LabError):
    """A data file is missing, truncated, corrupt or of the wrong kind (the message says how to fix it)."""


class ExperimentError(LabError):
    """An experiment cannot be loaded or built, or its parts do not fit together."""


class TrainError(LabError):
    """A training job cannot start or resume as asked."""


class ResultsError(LabError):
    """A results folder is missing files or holds something lrlab did not write."""


class SweepError(LrlabError):
    """A sweep, its template, grid, random search or result table is not valid."""


def invalid(
    name: str, value: Any, requirement: str, *, where: str = "", error: type[LrlabError] = ScheduleError
) -> LrlabError:
    """Build the error (a `ScheduleError` unless `error` says otherwise) for argument `name`.

    >>> str(invalid("steps", 0, "> 0"))
    'steps must be > 0; got steps=0'
    """
    prefix = f"{where}: " if where else ""
    return error(f"{prefix}{name} must be {requirement}; got {name}={value!r}")


def closest_names(word: str, choices: Iterable[str]) -> str:
    """A readable hint listing the valid names closest to `word`."""
    pool = sorted(choices)
    near = difflib.get_close_matches(word, pool, n=3, cutoff=0.5)
    if near:
        return "did you mean " + " or ".join(repr(n) for n in near) + "?"
    return "valid names are " + ", ".join(pool)
