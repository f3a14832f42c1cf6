"""Sweep values: a grid of parameter values, a random search, and the training seeds.

The grid maps each parameter to its values; several parameters give their
cartesian product. Values are written as on the command line:

* ``w=0,1,2,5,10`` -- a list;
* ``lr=log:1e-3:1:7`` -- 7 log-spaced values from 1e-3 to 1 (ends included);
* ``lr=lin:0:1:5`` -- 5 evenly spaced values from 0 to 1 (ends included).

Range values are rounded to 6 significant digits (``0.00316228``), so specs
and trial ids stay readable.

A random search draws settings from ``uniform:A:B``, ``loguniform:A:B``,
``int:A:B`` (both ends included) or ``choice:A,B,C`` (`Distribution`);
continuous draws are rounded to 6 significant digits too.

Sizes are checked before any work starts, and refused outright past a limit
(`MAX_VALUES` values of one parameter, `MAX_SEEDS` seeds, `MAX_TRIALS` trials
in a sweep: `check_size`), naming the number and the limit: a sweep that
large is a typo far more often than a plan, and one that is meant is better
run as several sweeps.
"""

from __future__ import annotations

import keyword
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lrlab.errors import SweepError, closest_names
from lrlab.sweeps.template import Number, bad, format_number, is_number, round_significant

__all__ = [
    "MAX_SEEDS",
    "MAX_TRIALS",
    "MAX_VALUES",
    "Distribution",
    "check_size",
    "parse_values",
    "parse_grid",
    "parse_random",
    "parse_seeds",
]

#: significant digits kept for range values (``log:``, ``lin:``) and continuous random draws
VALUE_DIGITS = 6
#: the most values one grid parameter may take (a range's COUNT, a list's length)
MAX_VALUES = 10_000
#: the most training seeds of a sweep; a seed itself is below 2**63 (torch's generators take 64-bit signed seeds)
MAX_SEEDS = 1_000
SEED_LIMIT = 2**63
#: the most trials of a sweep (settings x seeds), and of random draws
MAX_TRIALS = 10_000


def check_size(grid: Mapping[str, Sequence[Any]], draws: int, seeds: int, *, where: str = "sweep") -> int:
    """The number of trials -- grid values multiplied, times the random draws, times the seeds -- or a refusal.

    >>> check_size({"lr": (0.1, 0.2), "w": (0, 1, 2)}, 0, 3)
    18
    """
    settings = math.prod(len(values) for values in grid.values())
    total = settings * max(draws, 1) * seeds
    if total > MAX_TRIALS:
        parts = [f"{name}: {len(values)} values" for name, values in grid.items()]
        parts += [f"{draws} random draws"] if draws else []
        parts.append(f"{seeds} seeds")
        raise SweepError(
            f"{where}: {total} trials ({' x '.join(parts)}) is more than the limit of {MAX_TRIALS}; "
            "sweep fewer values or seeds, or split it into several sweeps"
        )
    return total


def _to_number(token: str) -> Number:
    """An int for whole-number text, else a finite float (`ValueError` for words, nan and inf)."""
    text = token.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    value = float(text)  # ValueError for words
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise bad("parameter name", name, "a name such as w or lr (letters, digits, _)", where)
    return name


def _range(name: str, text: str, where: str) -> tuple[float, ...]:
    kind = text.split(":", 1)[0].strip()
    form = f"{kind}:START:STOP:COUNT with COUNT a whole number >= 1"
    pieces = text.split(":")
    if len(pieces) != 4:
        raise bad(name, text, form, where)
    try:
        a, b = _to_number(pieces[1]), _to_number(pieces[2])
        count = int(pieces[3].strip())
    except ValueError:
        raise bad(name, text, form, where) from None
    if count < 1:
        raise bad(name, text, form, where)
    if count > MAX_VALUES:
        raise bad(name, text, f"{kind}:START:STOP:COUNT with COUNT <= {MAX_VALUES} (the limit)", where)
    if kind == "log":
        if not (a > 0 and b > 0):
            raise bad(name, text, "log:START:STOP:COUNT with START > 0 and STOP > 0", where)
        values = np.logspace(math.log10(a), math.log10(b), count)
    else:
        values = np.linspace(float(a), float(b), count)
    out = [round_significant(v, VALUE_DIGITS) for v in values.tolist()]
    out[0] = float(a)
    if count > 1:
        out[-1] = float(b)
    return tuple(out)


def parse_values(name: str, text: Any, *, where: str = "grid") -> tuple[Number, ...]:
    """The values of one grid parameter from ``0,1,2``, ``log:A:B:N``, ``lin:A:B:N`` or a list of numbers.

    >>> parse_values("lr", "log:0.01:1:3"), parse_values("w", "0, 5,10")
    ((0.01, 0.1, 1.0), (0, 5, 10))
    """
    values: tuple[Number, ...]
    if isinstance(text, str):
        stripped = text.strip()
        kind = stripped.split(":", 1)[0].strip() if ":" in stripped else ""
        if ":" in stripped:
            if kind not in ("log", "lin"):
                hint = closest_names(kind, ("log", "lin"))
                raise bad(name, text, f"numbers or log:START:STOP:COUNT or lin:START:STOP:COUNT ({hint})", where)
            values = _range(name, stripped, where)
        else:
            tokens = stripped.split(",")
            if any(not token.strip() for token in tokens):
                raise bad(name, text, "comma-separated numbers with no empty entries", where)
            parsed: list[Number] = []
            for token in tokens:
                try:
                    parsed.append(_to_number(token))
                except ValueError:
                    raise bad(
                        name, text, f"comma-separated numbers ({token.strip()!r} is not a number)", where
                    ) from None
            values = tuple(parsed)
    elif isinstance(text, Sequence | np.ndarray) and not isinstance(text, bytes):
        items = list(text)
        if not items:
            raise bad(name, items, "a non-empty list of numbers", where)
        for item in items:
            if not is_number(item) or not math.isfinite(item):
                raise bad(name, items, f"a list of finite numbers ({item!r} is not one)", where)
        values = tuple(int(v) if isinstance(v, numbers.Integral) else float(v) for v in items)
    else:
        raise bad(name, text, "a list of numbers or a range string such as 'log:1e-3:1:7'", where)
    if len(values) > MAX_VALUES:
        raise bad(name, f"{len(values)} values", f"at most {MAX_VALUES} values (the limit)", where)
    seen: set[str] = set()
    for value in values:
        key = format_number(value)
        if key in seen:
            raise bad(name, text, f"a list of distinct values ({key} repeats)", where)
        seen.add(key)
    return values


def _split_item(item: Any, where: str, example: str) -> tuple[str, str]:
    if not isinstance(item, str) or "=" not in item:
        raise SweepError(f"{where} must be NAME=VALUES such as {example}; got {where}={item!r}")
    name, text = item.split("=", 1)
    return _check_name(name.strip(), where), text


def parse_grid(items: Sequence[str] | Mapping[str, Any], *, where: str = "--grid") -> dict[str, tuple[Number, ...]]:
    """A grid from CLI items (``["w=0,1,2", "lr=log:1e-3:1:7"]``) or a table (TOML/YAML ``grid``).

    >>> parse_grid(["w=0,5", "lr=lin:0:1:3"])
    {'w': (0, 5), 'lr': (0.0, 0.5, 1.0)}
    """
    grid: dict[str, tuple[Number, ...]] = {}
    pairs = items.items() if isinstance(items, Mapping) else [_split_item(i, where, "w=0,1,2,5,10") for i in items]
    for name, text in pairs:
        _check_name(name, where)
        if name in grid:
            raise bad(name, text, "given once (it is already in the grid)", where)
        grid[name] = parse_values(name, text, where=where)
    check_size(grid, 0, 1, where=where)
    return grid


@dataclass(frozen=True)
class Distribution:
    """Where a random search draws one parameter from.

    ``uniform:A:B`` and ``loguniform:A:B`` (``0 < A``) draw floats rounded to
    6 significant digits, ``int:A:B`` whole numbers with both ends included,
    ``choice:A,B,C`` one of the listed numbers.

    >>> Distribution.parse("lr", "loguniform:1e-3:1")
    Distribution(kind='loguniform', low=0.001, high=1, choices=())
    """

    kind: str
    low: Number = 0
    high: Number = 0
    choices: tuple[Number, ...] = ()

    KINDS: ClassVar[tuple[str, ...]] = ("uniform", "loguniform", "int", "choice")

    @classmethod
    def parse(cls, name: str, text: Any, *, where: str = "--random") -> Distribution:
        """Read ``KIND:ARGS`` for parameter `name`; errors name `where`, the parameter and the text."""
        if not isinstance(text, str) or ":" not in text:
            raise bad(name, text, "KIND:ARGS with KIND one of " + ", ".join(cls.KINDS), where)
        kind, args = (s.strip() for s in text.split(":", 1))
        if kind not in cls.KINDS:
            raise bad(name, text, f"KIND:ARGS with a known KIND ({closest_names(kind, cls.KINDS)})", where)
        if kind == "choice":
            return cls(kind, choices=parse_values(name, args, where=where))
        form = f"{kind}:LOW:HIGH with LOW < HIGH" + (" and LOW > 0" if kind == "loguniform" else "")
        if kind == "int":
            form = "int:LOW:HIGH with whole numbers LOW <= HIGH"
        ends = args.split(":")
        try:
            if len(ends) != 2:
                raise ValueError(args)
            low, high = _to_number(ends[0]), _to_number(ends[1])
        except ValueError:
            raise bad(name, text, form, where) from None
        if kind == "int":
            if not (isinstance(low, int) and isinstance(high, int) and low <= high):
                raise bad(name, text, form, where)
        elif not low < high or (kind == "loguniform" and low <= 0):
            raise bad(name, text, form, where)
        return cls(kind, low, high)

    def __str__(self) -> str:
        if self.kind == "choice":
            return "choice:" + ",".join(format_number(c) for c in self.choices)
        return f"{self.kind}:{format_number(self.low)}:{format_number(self.high)}"

    def sample(self, rng: np.random.Generator) -> Number:
        """One draw."""
        if self.kind == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.kind == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.kind == "loguniform":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(float(self.low), float(self.high))
        return round_significant(value, VALUE_DIGITS)


def parse_random(items: Sequence[str] | Mapping[str, Any], *, where: str = "--random") -> dict[str, Distribution]:
    """Random-search parameters from CLI items (``["lr=loguniform:1e-3:1"]``) or a table."""
    out: dict[str, Distribution] = {}
    pairs = (
        items.items() if isinstance(items, Mapping) else [_split_item(i, where, "lr=loguniform:1e-3:1") for i in items]
    )
    for name, text in pairs:
        _check_name(name, where)
        if name in out:
            raise bad(name, text, "given once (it is already in the random search)", where)
        out[name] = text if isinstance(text, Distribution) else Distribution.parse(name, text, where=where)
    return out


def parse_seeds(value: Any, *, where: str = "") -> tuple[int, ...]:
    """Seeds from a count (``3`` -> 0, 1, 2), ``"0,1,2"`` or a list of whole numbers >= 0.

    >>> parse_seeds(3), parse_seeds("4,7")
    ((0, 1, 2), (4, 7))
    """
    requirement = "a count >= 1 or a list of distinct whole numbers >= 0"
    if isinstance(value, str):
        try:
            parts = [int(token) for token in value.split(",")]
        except ValueError:
            raise bad("seeds", value, requirement, where) from None
        value = parts if "," in value else parts[0]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            raise bad("seeds", value, requirement, where)
        if int(value) > MAX_SEEDS:
            raise bad("seeds", value, f"a count <= {MAX_SEEDS} (the limit)", where)
        return tuple(range(int(value)))
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise bad("seeds", value, requirement, where)
    items = list(value)
    if (
        not items
        or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in items)
        or len(set(items)) != len(items)
    ):
        raise bad("seeds", value, requirement, where)
    if len(items) > MAX_SEEDS:
        raise bad("seeds", f"{len(items)} seeds", f"at most {MAX_SEEDS} seeds (the limit)", where)
    if max(int(s) for s in items) >= SEED_LIMIT:
        raise bad("seeds", value, "whole numbers from 0 to 2**63 - 1", where)
    return tuple(int(s) for s in items)
