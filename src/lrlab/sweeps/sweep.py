"""Sweeps: a spec template, a grid (or a random search) and seeds, expanded into trials.

A sweep answers a question such as "how long should warmup last?" with data.
Its `template` is a text spec with placeholders in braces::

    warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})

A placeholder holds a parameter name or a small arithmetic expression of
parameters and numbers (``+ - * / // **``, parentheses, unary minus). It is
read with `ast` and evaluated by a tiny interpreter, never with ``eval``.
Results are rounded to 12 significant digits, and whole numbers print as
ints, so ``{30-w}`` with ``w=5`` gives ``steps=25`` and ``{0.1*30}`` gives ``3``.

The grid maps each parameter to its values; several parameters give their
cartesian product. Values are written as on the command line:

* ``w=0,1,2,5,10`` -- a list;
* ``lr=log:1e-3:1:7`` -- 7 log-spaced values from 1e-3 to 1 (ends included);
* ``lr=lin:0:1:5`` -- 5 evenly spaced values from 0 to 1 (ends included).

Range values are rounded to 6 significant digits (``0.00316228``), so specs
and trial ids stay readable.

A random search draws ``trials`` settings (``search_seed`` makes the draws
repeatable) from ``uniform:A:B``, ``loguniform:A:B``, ``int:A:B`` (both ends
included) or ``choice:A,B,C``; continuous draws are rounded to 6 significant
digits so trial ids stay readable. When a grid is given too, every grid
point is combined with every draw.

`expand` turns a sweep into `Trial` values, one per setting and seed, in
grid order with the seeds innermost; each has a stable `Trial.trial_id`
(a filesystem-safe name and a short hash of the sorted parameters and the
seed) and the parsed schedule.

>>> sweep = Sweep("warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})", grid={"w": (0, 5)}, seeds=(0, 1))
>>> [t.spec for t in expand(sweep)][::2]
['warmup(cosine(0.3, steps=30, final_lr=0.01), steps=0)', 'warmup(cosine(0.3, steps=25, final_lr=0.01), steps=5)']
>>> expand(sweep)[2].trial_id  # doctest: +ELLIPSIS
'w=5_seed=0-...'

Sweeps are data too (`load_sweep` reads TOML, and YAML when PyYAML is
installed); the presets in ``lrlab/sweeps/presets/`` answer the exercises
of the learning-rate scheduling chapter. `summarize` and `conclusion` turn
the final metrics of the trials into a table and one sentence.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import itertools
import json
import keyword
import math
import numbers
import operator
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lrlab.errors import ScheduleError, SweepError, closest_names
from lrlab.schedules.base import Schedule
from lrlab.schedules.spec import parse

__all__ = [
    "SweepError",
    "Template",
    "Distribution",
    "Metric",
    "Sweep",
    "Trial",
    "TrialResult",
    "SettingSummary",
    "Summary",
    "expand",
    "parse_values",
    "parse_grid",
    "parse_random",
    "parse_seeds",
    "format_number",
    "setting_id",
    "trial_id",
    "setting_label",
    "load_sweep",
    "sweep_from_dict",
    "sweep_names",
    "summarize",
    "conclusion",
    "student_t_quantile",
    "PERS",
]

Number = int | float

#: significant digits kept for placeholder results (hides float noise such as 3.0000000000000004)
SIGNIFICANT_DIGITS = 12
#: significant digits kept for range values (``log:``, ``lin:``) and continuous random draws
VALUE_DIGITS = 6
#: what one unit of a schedule's clock is when training
PERS = ("epoch", "step")
#: the file formats `load_sweep` reads, by suffix
SUFFIXES = (".toml", ".yaml", ".yml")

_PRESETS = "presets"
_MAX_TEMPLATE = 10_000
_MAX_NAME = 80




def _bad(name: str, value: Any, requirement: str, where: str = "") -> SweepError:
    prefix = f"{where}: " if where else ""
    return SweepError(f"{prefix}{name} must be {requirement}; got {name}={value!r}")


# -- numbers --------------------------------------------------------------------
def _round(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    return float(f"{float(value):.{digits}g}")


def format_number(value: Number) -> str:
    """A number as spec text: rounded to 12 significant digits, whole numbers as ints.

    >>> format_number(25.0), format_number(3.0000000000000004), format_number(0.001), format_number(-0.0)
    ('25', '3', '0.001', '0')
    """
    x = _round(value)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _to_number(token: str) -> Number:
    text = token.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    value = float(text)  # ValueError for words
    if not math.isfinite(value):
        raise ValueError(text)
    return value


# -- the template ---------------------------------------------------------------
_OPS: dict[type[ast.operator], Callable[[float, float], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}


@dataclass(frozen=True)
class Placeholder:
    """One ``{expression}`` of a template: its source text and the parameter names it reads."""

    source: str
    tree: ast.expr = field(repr=False, compare=False)
    names: frozenset[str]

    def evaluate(self, params: Mapping[str, Number]) -> float:
        """The expression's value for `params` (a float; `format_number` prints it)."""
        return self._eval(self.tree, params)

    def _eval(self, node: ast.expr, params: Mapping[str, Number]) -> float:
        if isinstance(node, ast.Constant):
            constant: Any = node.value
            number: float = float(constant)
            return number
        if isinstance(node, ast.Name):
            return float(params[node.id])
        if isinstance(node, ast.UnaryOp):
            value = self._eval(node.operand, params)
            return -value if isinstance(node.op, ast.USub) else value
        assert isinstance(node, ast.BinOp)
        result = _OPS[type(node.op)](self._eval(node.left, params), self._eval(node.right, params))
        if isinstance(result, complex):
            raise ValueError("the result is a complex number")
        return float(result)


@dataclass(frozen=True)
class Template:
    """A text spec with ``{expression}`` placeholders, checked when built.

    >>> t = Template("poly(0.3, steps=30, power={p})")
    >>> sorted(t.names), t.render({"p": 2.0})
    (['p'], 'poly(0.3, steps=30, power=2)')
    """

    text: str
    parts: tuple[str | Placeholder, ...] = field(init=False, repr=False, compare=False)
    names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = self.text
        if not isinstance(text, str) or not text.strip():
            raise _bad("template", text, "a non-empty text spec such as 'cosine({lr}, steps=30)'")
        if len(text) > _MAX_TEMPLATE:
            raise _bad("template", text[:60] + "...", f"at most {_MAX_TEMPLATE} characters")
        parts: list[str | Placeholder] = []
        start = 0
        opened = -1
        for i, char in enumerate(text):
            if char == "{":
                if opened >= 0:
                    raise SweepError(
                        f"template has an unmatched '{{' at character {opened + 1} (another '{{' follows "
                        f"before '}}'); got template={text!r}"
                    )
                parts.append(text[start:i])
                opened = i
            elif char == "}":
                if opened < 0:
                    raise SweepError(f"template has an unmatched '}}' at character {i + 1}; got template={text!r}")
                parts.append(_placeholder(text[opened + 1 : i], text))
                opened = -1
                start = i + 1
        if opened >= 0:
            raise SweepError(f"template has an unmatched '{{' at character {opened + 1}; got template={text!r}")
        parts.append(text[start:])
        object.__setattr__(self, "parts", tuple(p for p in parts if p != ""))
        names: frozenset[str] = frozenset()
        for part in parts:
            if isinstance(part, Placeholder):
                names |= part.names
        object.__setattr__(self, "names", names)

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        """The placeholders, in order."""
        return tuple(p for p in self.parts if isinstance(p, Placeholder))

    def render(self, params: Mapping[str, Number]) -> str:
        """The spec text with every placeholder replaced by its value for `params`."""
        missing = sorted(self.names - set(params))
        if missing:
            raise SweepError(
                f"template {self.text!r} needs a value for {', '.join(missing)}; got {setting_label(params) or 'none'}"
            )
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                value = part.evaluate(params)
            except (ArithmeticError, ValueError) as exc:
                reason = "the result is too large" if isinstance(exc, OverflowError) else str(exc)
                raise SweepError(
                    f"template placeholder {{{part.source}}} cannot be evaluated with {setting_label(params)}: "
                    f"{reason}; in template={self.text!r}"
                ) from None
            if not math.isfinite(value):
                raise SweepError(
                    f"template placeholder {{{part.source}}} is {value} with {setting_label(params)}; "
                    f"in template={self.text!r}"
                )
            out.append(format_number(value))
        return "".join(out)


def _placeholder(source: str, template: str) -> Placeholder:
    shown = "{" + source + "}"
    if not source.strip():
        raise SweepError(
            f"template placeholder {shown} is empty; write a parameter name or an expression such as "
            f"{{30-w}}; got template={template!r}"
        )
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        raise SweepError(
            f"template placeholder {shown} is not an arithmetic expression; got template={template!r}"
        ) from None
    names: set[str] = set()

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and _is_number(node.value) and math.isfinite(float(node.value)):  # type: ignore[arg-type]
            pass
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            check(node.operand)
        elif isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            check(node.left)
            check(node.right)
        else:
            bad = ast.get_source_segment(source.strip(), node) or type(node).__name__
            raise SweepError(
                f"template placeholder {shown} may only use parameter names, numbers, + - * / // ** and "
                f"parentheses; {bad!r} is not allowed; got template={template!r}"
            )

    check(tree)
    return Placeholder(source.strip(), tree, frozenset(names))


# -- grid values and random distributions ---------------------------------------
def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise _bad("parameter name", name, "a name such as w or lr (letters, digits, _)", where)
    return name


def _range(name: str, text: str, where: str) -> tuple[float, ...]:
    kind = text.split(":", 1)[0].strip()
    form = f"{kind}:START:STOP:COUNT with COUNT a whole number >= 1"
    pieces = text.split(":")
    if len(pieces) != 4:
        raise _bad(name, text, form, where)
    try:
        a, b = _to_number(pieces[1]), _to_number(pieces[2])
        count = int(pieces[3].strip())
    except ValueError:
        raise _bad(name, text, form, where) from None
    if count < 1:
        raise _bad(name, text, form, where)
    if kind == "log":
        if not (a > 0 and b > 0):
            raise _bad(name, text, "log:START:STOP:COUNT with START > 0 and STOP > 0", where)
        values = np.logspace(math.log10(a), math.log10(b), count)
    else:
        values = np.linspace(float(a), float(b), count)
    out = [_round(v, VALUE_DIGITS) for v in values.tolist()]
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
                raise _bad(name, text, f"numbers or log:START:STOP:COUNT or lin:START:STOP:COUNT ({hint})", where)
            values = _range(name, stripped, where)
        else:
            tokens = stripped.split(",")
            if any(not token.strip() for token in tokens):
                raise _bad(name, text, "comma-separated numbers with no empty entries", where)
            parsed: list[Number] = []
            for token in tokens:
                try:
                    parsed.append(_to_number(token))
                except ValueError:
                    raise _bad(
                        name, text, f"comma-separated numbers ({token.strip()!r} is not a number)", where
                    ) from None
            values = tuple(parsed)
    elif isinstance(text, Sequence | np.ndarray) and not isinstance(text, bytes):
        items = list(text)
        if not items:
            raise _bad(name, items, "a non-empty list of numbers", where)
        for item in items:
            if not _is_number(item) or not math.isfinite(item):
                raise _bad(name, items, f"a list of finite numbers ({item!r} is not one)", where)
        values = tuple(int(v) if isinstance(v, numbers.Integral) else float(v) for v in items)
    else:
        raise _bad(name, text, "a list of numbers or a range string such as 'log:1e-3:1:7'", where)
    seen: set[str] = set()
    for value in values:
        key = format_number(value)
        if key in seen:
            raise _bad(name, text, f"a list of distinct values ({key} repeats)", where)
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
            raise _bad(name, text, "given once (it is already in the grid)", where)
        grid[name] = parse_values(name, text, where=where)
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
            raise _bad(name, text, "KIND:ARGS with KIND one of " + ", ".join(cls.KINDS), where)
        kind, args = (s.strip() for s in text.split(":", 1))
        if kind not in cls.KINDS:
            raise _bad(name, text, f"KIND:ARGS with a known KIND ({closest_names(kind, cls.KINDS)})", where)
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
            raise _bad(name, text, form, where) from None
        if kind == "int":
            if not (isinstance(low, int) and isinstance(high, int) and low <= high):
                raise _bad(name, text, form, where)
        elif not low < high or (kind == "loguniform" and low <= 0):
            raise _bad(name, text, form, where)
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
        return _round(value, VALUE_DIGITS)


def parse_random(items: Sequence[str] | Mapping[str, Any], *, where: str = "--random") -> dict[str, Distribution]:
    """Random-search parameters from CLI items (``["lr=loguniform:1e-3:1"]``) or a table."""
    out: dict[str, Distribution] = {}
    pairs = (
        items.items() if isinstance(items, Mapping) else [_split_item(i, where, "lr=loguniform:1e-3:1") for i in items]
    )
    for name, text in pairs:
        _check_name(name, where)
        if name in out:
            raise _bad(name, text, "given once (it is already in the random search)", where)
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
            raise _bad("seeds", value, requirement, where) from None
        value = parts if "," in value else parts[0]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            raise _bad("seeds", value, requirement, where)
        return tuple(range(int(value)))
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _bad("seeds", value, requirement, where)
    items = list(value)
    if (
        not items
        or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in items)
        or len(set(items)) != len(items)
    ):
        raise _bad("seeds", value, requirement, where)
    return tuple(int(s) for s in items)


# -- ids -------------------------------------------------------------------------
def setting_label(params: Mapping[str, Number]) -> str:
    """``"lr=0.01, w=5"``: the sorted parameters, for people."""
    return ", ".join(f"{k}={format_number(v)}" for k, v in sorted(params.items()))


def _ident(params: Mapping[str, Number], extra: Sequence[tuple[str, Number]] = ()) -> str:
    items = [(k, format_number(v)) for k, v in sorted(params.items())]
    items += [(k, format_number(v)) for k, v in extra]
    name = "_".join(f"{k}={v}" for k, v in items) or "default"
    safe = re.sub(r"[^A-Za-z0-9.=+-]+", "_", name)[:_MAX_NAME]
    digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()[:8]
    return f"{safe}-{digest}"


def setting_id(params: Mapping[str, Number]) -> str:
    """A stable, filesystem-safe id of a setting: ``"w=5-<hash>"`` (same for ``5`` and ``5.0``)."""
    return _ident(params)


def trial_id(params: Mapping[str, Number], seed: int) -> str:
    """A stable, filesystem-safe id of one run: ``"w=5_seed=0-<hash>"``."""
    return _ident(params, [("seed", seed)])


# -- the conclusion metric -----------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """The final metric a sweep is judged by, and its direction.

    Written ``"max:test_acc"`` or ``"min:train_loss"``; without a prefix,
    names containing ``loss`` or ``error`` are minimised, others maximised.

    >>> Metric.parse("train_loss"), str(Metric())
    (Metric(name='train_loss', higher_is_better=False), 'max:test_acc')
    """

    name: str = "test_acc"
    higher_is_better: bool = True

    @classmethod
    def parse(cls, text: Any, *, where: str = "conclusion_metric") -> Metric:
        """Read ``[max:|min:]NAME``."""
        if isinstance(text, Metric):
            return text
        if not isinstance(text, str) or not text.strip():
            raise _bad(where, text, "a metric name such as 'test_acc' or 'min:train_loss'")
        head, _, tail = text.strip().rpartition(":")
        if head and head not in ("max", "min"):
            raise _bad(where, text, "NAME, max:NAME or min:NAME")
        if not tail.isidentifier():
            raise _bad(where, text, "a metric name such as 'test_acc' or 'min:train_loss'")
        if head:
            return cls(tail, head == "max")
        return cls(tail, not ("loss" in tail or "error" in tail))

    def __str__(self) -> str:
        return f"{'max' if self.higher_is_better else 'min'}:{self.name}"

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take: [0, 1] for an accuracy, [0, inf) for a loss, else unbounded."""
        if self.name.endswith("acc") or self.name.endswith("accuracy"):
            return 0.0, 1.0
        if "loss" in self.name or "error" in self.name:
            return 0.0, math.inf
        return -math.inf, math.inf


# -- the sweep ---------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One run of a sweep: a setting of the parameters, a seed, and the schedule they give."""

    params: Mapping[str, Number]
    seed: int
    spec: str
    schedule: Schedule
    trial_id: str

    @property
    def setting_id(self) -> str:
        """The id of the setting (the parameters without the seed)."""
        return setting_id(self.params)

    @property
    def label(self) -> str:
        """``"lr=0.01, w=5"``."""
        return setting_label(self.params)


@dataclass(frozen=True)
class Sweep:
    """A sweep's definition: template, grid and/or random search, seeds, epochs, options.

    ``per`` says what one unit of the schedule's clock is when training
    (``"epoch"`` or ``"step"``); ``options`` holds training options passed
    through to the trainer unchanged (batch size, optimizer, ...).
    Everything is checked here; `expand` checks that every spec parses.
    """

    template: str
    grid: Mapping[str, Sequence[Number]] = field(default_factory=dict)
    random: Mapping[str, Distribution] = field(default_factory=dict)
    trials: int = 0
    search_seed: int = 0
    seeds: Sequence[int] = (0,)
    epochs: int = 30
    per: str = "epoch"
    options: Mapping[str, Any] = field(default_factory=dict)
    conclusion_metric: Metric = field(default_factory=Metric)
    name: str = ""
    description: str = ""
    parsed_template: Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        template = Template(self.template)
        object.__setattr__(self, "parsed_template", template)
        if not isinstance(self.grid, Mapping):
            raise _bad("grid", self.grid, "a table of parameter names to values")
        if not isinstance(self.random, Mapping):
            raise _bad("random", self.random, "a table of parameter names to distributions")
        grid = parse_grid(self.grid, where="grid")
        random = parse_random(self.random, where="random")
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "random", random)
        for name in random:
            if name in grid:
                raise SweepError(
                    f"parameter {name!r} must be in the grid or the random search, not both; "
                    f"got grid {name}={list(grid[name])} and random {name}={str(random[name])!r}"
                )
        params = [*grid, *random]
        unknown = sorted(template.names - set(params))
        if unknown:
            word = unknown[0]
            hint = closest_names(word, params) if params else "add it to the grid"
            raise SweepError(
                f"template placeholder uses unknown parameter {word!r} ({hint}); "
                f"got template={self.template!r} with parameters {params}"
            )
        unused = [p for p in params if p not in template.names]
        if unused:
            raise SweepError(
                f"parameter {unused[0]!r} is not used by the template; add {{{unused[0]}}} to it or drop "
                f"the parameter; got template={self.template!r}"
            )
        if isinstance(self.trials, bool) or not isinstance(self.trials, numbers.Integral):
            raise _bad("trials", self.trials, "a whole number")
        if random and self.trials < 1:
            raise _bad("trials", self.trials, ">= 1 with a random search")
        if not random and self.trials != 0:
            raise _bad("trials", self.trials, "0 without random parameters (add some with random)")
        ss = self.search_seed
        if isinstance(ss, bool) or not isinstance(ss, numbers.Integral) or ss < 0:
            raise _bad("search_seed", ss, "a whole number >= 0")
        object.__setattr__(self, "seeds", parse_seeds(self.seeds))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, numbers.Integral) or self.epochs < 1:
            raise _bad("epochs", self.epochs, "a whole number >= 1")
        if self.per not in PERS:
            raise _bad("per", self.per, " or ".join(repr(p) for p in PERS))
        if not isinstance(self.options, Mapping) or any(not isinstance(k, str) for k in self.options):
            raise _bad("options", self.options, "a table of option names to values")
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "conclusion_metric", Metric.parse(self.conclusion_metric))
        for key in ("name", "description"):
            if not isinstance(getattr(self, key), str):
                raise _bad(key, getattr(self, key), "a string")

    @property
    def parameters(self) -> tuple[str, ...]:
        """Grid parameters in order, then random ones sorted."""
        return (*self.grid, *sorted(self.random))

    def settings(self) -> list[dict[str, Number]]:
        """Every setting: the grid's product (first parameter slowest) times the random draws."""
        points = [dict(zip(self.grid, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        if self.random:
            rng = np.random.default_rng(int(self.search_seed))
            draws = [{n: self.random[n].sample(rng) for n in sorted(self.random)} for _ in range(self.trials)]
            points = [{**p, **d} for p in points for d in draws]
        out: dict[str, dict[str, Number]] = {}
        for point in points:
            out.setdefault(setting_id(point), point)  # repeated draws count once
        return list(out.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `sweep_from_dict` reads back into an equal sweep."""
        data: dict[str, Any] = {"template": self.template}
        if self.name:
            data["name"] = self.name
        if self.description:
            data["description"] = self.description
        data["grid"] = {k: list(v) for k, v in self.grid.items()}
        if self.random:
            data["random"] = {k: str(v) for k, v in self.random.items()}
            data["trials"] = int(self.trials)
            data["search_seed"] = int(self.search_seed)
        data.update(
            seeds=list(self.seeds),
            epochs=int(self.epochs),
            per=self.per,
            options=dict(self.options),
            conclusion_metric=str(self.conclusion_metric),
        )
        return data

    @property
    def fingerprint(self) -> str:
        """A short hash of everything that changes the runs (not the name or description)."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("name", "description")}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


def expand(sweep: Sweep) -> list[Trial]:
    """Every trial of `sweep`: each setting (see `Sweep.settings`) with each seed, seeds innermost.

    Each expanded spec is parsed; a bad value raises `SweepError` naming the
    template, the parameter values and the parser's message.
    """
    trials: list[Trial] = []
    template = sweep.parsed_template
    for params in sweep.settings():
        text = template.render(params)
        try:
            schedule = parse(text)
        except ScheduleError as exc:
            raise SweepError(
                f"template {sweep.template!r} with {setting_label(params)} gives {text!r}, which is not a valid "
                f"schedule: {exc}"
            ) from None
        spec = str(schedule)
        for seed in sweep.seeds:
            trials.append(Trial(dict(params), int(seed), spec, schedule, trial_id(params, seed)))
    return trials


# -- files --------------------------------------------------------------------------
_FIELDS = (
    "template",
    "grid",
    "random",
    "trials",
    "search_seed",
    "seeds",
    "epochs",
    "per",
    "options",
    "conclusion_metric",
    "name",
    "description",
)


def sweep_from_dict(data: Mapping[str, Any], *, name: str = "") -> Sweep:
    """A sweep from a TOML/YAML table; unknown keys are errors (with the closest field names)."""
    where = f"sweep {name!r}" if name else "sweep"
    if not isinstance(data, Mapping):
        raise SweepError(f"{where} must be a table of fields; got {type(data).__name__}")
    for key in data:
        if key not in _FIELDS:
            raise SweepError(f"{where} has an unknown field {key!r}; {closest_names(str(key), _FIELDS)}")
    if "template" not in data:
        raise SweepError(f'{where} needs a template, e.g. template = "cosine({{lr}}, steps=30)"')
    kwargs = dict(data)
    kwargs.setdefault("name", name)
    try:
        grid = kwargs.get("grid", {})
        if not isinstance(grid, Mapping):
            raise _bad("grid", grid, "a table of parameter names to lists or range strings")
        kwargs["grid"] = parse_grid(grid, where="grid")
        random = kwargs.get("random", {})
        if not isinstance(random, Mapping):
            raise _bad("random", random, "a table of parameter names to distributions")
        kwargs["random"] = parse_random(random, where="random")
        kwargs["conclusion_metric"] = Metric.parse(kwargs.get("conclusion_metric", "max:test_acc"))
        return Sweep(**kwargs)
    except SweepError as exc:
        raise SweepError(f"{where}: {exc}") from None


def sweep_names() -> list[str]:
    """The names of the sweeps shipped with lrlab."""
    folder = resources.files("lrlab.sweeps").joinpath(_PRESETS)
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(SUFFIXES))


def _read(text: str, suffix: str, name: str) -> Any:
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"sweep {name!r} is not valid TOML: {exc}") from None
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise SweepError(f"reading the YAML sweep {name!r} needs PyYAML: pip install pyyaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"sweep {name!r} is not valid YAML: {exc}") from None


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Load a shipped sweep by name (see `sweep_names`) or a ``.toml``/``.yaml`` file by path.

    >>> load_sweep("exercise-warmup-length").grid
    {'w': (0, 1, 2, 5, 10)}
    """
    path = Path(name_or_path)
    if path.suffix in SUFFIXES or path.exists():
        if not path.is_file():
            raise SweepError(f"sweep file {str(path)!r} does not exist")
        if path.suffix not in SUFFIXES:
            raise _bad("sweep file", str(path), "a .toml, .yaml or .yml file")
        return sweep_from_dict(_read(path.read_text(), path.suffix, path.stem), name=path.stem)
    name = str(name_or_path)
    names = sweep_names()
    if name not in names:
        raise SweepError(f"unknown sweep {name!r}; {closest_names(name, names)}")
    folder = resources.files("lrlab.sweeps").joinpath(_PRESETS)
    for suffix in SUFFIXES:
        entry = folder.joinpath(name + suffix)
        if entry.is_file():
            return sweep_from_dict(_read(entry.read_text(), suffix, name), name=name)
    raise SweepError(f"unknown sweep {name!r}")  # pragma: no cover


# -- analysis ------------------------------------------------------------------------
def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction of the incomplete beta function (modified Lentz).
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((a - 1.0 + m2) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """The `p`-quantile of Student's t distribution with `df` degrees of freedom.

    Found by bisection on the CDF ``F(t) = 1 - I_x(df/2, 1/2) / 2`` for
    ``t >= 0``, ``x = df / (df + t**2)`` (``I`` the regularized incomplete
    beta function), to about 1e-12.

    >>> round(student_t_quantile(0.975, 4), 6)
    2.776445
    """
    if not (0.0 < p < 1.0):
        raise _bad("p", p, "in (0, 1)", "student_t_quantile")
    if not (df > 0 and math.isfinite(df)):
        raise _bad("df", df, "> 0", "student_t_quantile")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class TrialResult:
    """The final numbers of one trial: its parameters, seed, metrics and whether it diverged."""

    params: Mapping[str, Number]
    seed: int
    metrics: Mapping[str, float]
    diverged: bool = False

    @classmethod
    def from_dict(cls, data: TrialResult | Mapping[str, Any]) -> TrialResult:
        """From ``{"params", "seed", "diverged", "metrics": {...}}`` or with the metrics at the top level."""
        if isinstance(data, TrialResult):
            return data
        if not isinstance(data, Mapping) or "params" not in data or "seed" not in data:
            raise _bad("result", data, "a table with params, seed and final metrics", "summarize")
        metrics = data.get("metrics")
        if metrics is None:
            metrics = {k: v for k, v in data.items() if k not in ("params", "seed", "diverged", "trial_id")}
        return cls(dict(data["params"]), int(data["seed"]), dict(metrics), bool(data.get("diverged", False)))


@dataclass(frozen=True)
class SettingSummary:
    """One setting's numbers over its seeds.

    ``mean``, ``std`` (sample, ``ddof=1``) and the 95% interval
    ``mean ± t(0.975, n-1) * std / sqrt(n)`` are of the conclusion metric
    over the ``n`` seeds where it is finite; std and interval are NaN when
    ``n < 2``. The interval is clipped to the values the metric can take
    (`Metric.bounds`: an accuracy's interval over 2 seeds can otherwise
    reach far below 0). ``train_loss`` is the mean final training loss (NaN when none
    is finite); ``diverged`` counts the seeds that diverged.
    """

    params: Mapping[str, Number]
    label: str
    seeds: tuple[int, ...]
    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    train_loss: float
    diverged: int

    @property
    def runs(self) -> int:
        """Number of trials (seeds) of this setting."""
        return len(self.seeds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON or CSV."""
        return {
            "setting": self.label,
            "params": dict(self.params),
            "seeds": list(self.seeds),
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "train_loss": self.train_loss,
            "diverged": self.diverged,
        }


@dataclass(frozen=True)
class Summary:
    """A table of settings (in the order first seen) for one metric."""

    metric: Metric
    rows: tuple[SettingSummary, ...]

    def ranked(self) -> list[SettingSummary]:
        """Settings with a finite mean, best first (ties: fewer diverged, then table order)."""
        sign = -1.0 if self.metric.higher_is_better else 1.0
        rows = [r for r in self.rows if r.n > 0]
        return sorted(rows, key=lambda r: (sign * r.mean, r.diverged))

    def format(self) -> str:
        """The table as aligned plain text."""
        name = self.metric.name
        head = ["setting", "runs", f"{name} mean ± std", "95% interval", "train_loss", "diverged"]
        lines = [head]
        for r in self.rows:
            lines.append(
                [
                    r.label or "(no parameters)",
                    str(r.runs),
                    f"{_f(r.mean)} ± {_f(r.std)}",
                    f"[{_f(r.ci_low)}, {_f(r.ci_high)}]",
                    _f(r.train_loss),
                    str(r.diverged),
                ]
            )
        widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines)


def _f(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.4g}"


def _finite_mean(values: Sequence[float]) -> float:
    good = [v for v in values if math.isfinite(v)]
    return float(np.mean(good)) if good else math.nan


def summarize(
    trials_results: Iterable[TrialResult | Mapping[str, Any]], metric: Metric | str = "max:test_acc"
) -> Summary:
    """Per setting: mean ± std and 95% interval of the final `metric`, mean train loss, diverged count.

    Each result gives a trial's ``params``, ``seed`` and final metrics
    (``test_acc``, ``train_loss``, ...) and its ``diverged`` flag. A diverged
    trial's metric counts when it is finite (a net that blew up still has a
    test accuracy); NaN or missing values are left out of ``n``.
    """
    target = Metric.parse(metric)
    groups: dict[str, list[TrialResult]] = {}
    seen: set[tuple[str, int]] = set()
    for item in trials_results:
        result = TrialResult.from_dict(item)
        key = setting_id(result.params)
        if (key, result.seed) in seen:
            raise SweepError(f"summarize: results hold {setting_label(result.params)} with seed={result.seed} twice")
        seen.add((key, result.seed))
        groups.setdefault(key, []).append(result)
    if not groups:
        raise SweepError("summarize: trials_results must hold at least one result; got none")
    known = {m for rs in groups.values() for r in rs for m in r.metrics}
    if target.name not in known:
        raise SweepError(f"summarize: no result has the metric {target.name!r}; {closest_names(target.name, known)}")
    rows = []
    for results in groups.values():
        values = [float(r.metrics.get(target.name, math.nan)) for r in results]
        good = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
        n = int(good.size)
        mean = float(good.mean()) if n else math.nan
        std = float(good.std(ddof=1)) if n >= 2 else math.nan
        half = student_t_quantile(0.975, n - 1) * std / math.sqrt(n) if n >= 2 else math.nan
        losses = [float(r.metrics.get("train_loss", math.nan)) for r in results]
        params = dict(results[0].params)
        rows.append(
            SettingSummary(
                params=params,
                label=setting_label(params),
                seeds=tuple(r.seed for r in results),
                n=n,
                mean=mean,
                std=std,
                ci_low=float(np.clip(mean - half, *target.bounds)),  # NaN stays NaN
                ci_high=float(np.clip(mean + half, *target.bounds)),
                train_loss=_finite_mean(losses),
                diverged=sum(1 for r in results if r.diverged),
            )
        )
    return Summary(target, tuple(rows))


def _describe(row: SettingSummary, metric: str) -> str:
    seeds = "seed" if row.n == 1 else "seeds"
    text = f"{row.label or '(no parameters)'} ({metric} {row.mean:.4g}"
    text += f" ± {row.std:.2g} over {row.n} {seeds}" if row.n >= 2 else f" from {row.n} {seeds}"
    if row.diverged:
        text += f", {row.diverged} of {row.runs} diverged"
    return text + ")"


def conclusion(summary: Summary) -> str:
    """One sentence: the best setting, and whether its lead over the runner-up exceeds the seed spread.

    The *seed spread* is the sample standard deviation of the final metric
    across seeds of one setting: how much the result moves when only the
    random seed changes. The lead counts as real when it is larger than the
    larger spread of the two settings compared; otherwise it may be noise.
    """
    metric = summary.metric.name
    ranked = summary.ranked()
    if not ranked:
        diverged = sum(r.diverged for r in summary.rows)
        runs = sum(r.runs for r in summary.rows)
        return f"No setting has a finite final {metric}, so none is best ({diverged} of {runs} runs diverged)."
    best = ranked[0]
    if len(ranked) == 1:
        return f"Only one setting has a final {metric}: {_describe(best, metric)}."
    second = ranked[1]
    lead = abs(best.mean - second.mean)
    head = f"Best is {_describe(best, metric)}, ahead of {_describe(second, metric)} by {lead:.2g}"
    spread = max(best.std, second.std)
    if not math.isfinite(spread):
        return head + "; with a single seed the seed spread is unknown, so run more seeds before trusting the lead."
    if lead > spread:
        return head + f", more than the seed spread ({spread:.2g}), so the lead is larger than seed-to-seed noise."
    return head + f", not more than the seed spread ({spread:.2g}), so the lead may be seed noise."
