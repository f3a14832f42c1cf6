"""Text and data forms of a schedule: ``parse``/``str`` and ``from_dict``/``to_dict``.

A text spec is written like the Python call,
``"warmup(cosine(0.3, steps=15, final_lr=0.01), steps=5)"``. It is read with
``ast`` and never evaluated: only calls of registered schedule names,
numbers, strings, ``True``/``False``/``None`` and lists are allowed.
Anything else -- unknown names, wrong types, malformed, huge or deeply
nested input -- raises `SpecError` (a ``ValueError``).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from typing import Any

from lrlab.errors import ScheduleError, SpecError, closest_names, invalid
from lrlab.schedules.base import REGISTRY, Schedule

# The limits MAX_SPEC_LENGTH and MAX_DEPTH are imported by name; these are the functions `lrlab` exports.
__all__ = ["parse", "from_dict", "to_dict", "as_schedule"]

#: longest text spec accepted, in characters
MAX_SPEC_LENGTH = 10_000
#: deepest nesting of calls and lists accepted
MAX_DEPTH = 32


def parse(text: str) -> Schedule:
    """Read a text spec into a schedule; ``parse(str(s)) == s`` for every schedule.

    >>> parse("cosine(0.3, steps=20, final_lr=0.01)")
    lrlab.cosine(0.3, steps=20, final_lr=0.01)
    """
    if isinstance(text, Schedule):
        return text
    if not isinstance(text, str):
        raise SpecError(f"spec must be a string; got spec={text!r}")
    if len(text) > MAX_SPEC_LENGTH:
        raise SpecError(f"spec must be at most {MAX_SPEC_LENGTH} characters; got {len(text)}")
    source = text.strip()
    if not source:
        raise SpecError("spec must not be empty; got spec=''")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"spec is not a valid call: {exc.msg} in {text!r}") from None
    except (ValueError, RecursionError, MemoryError):
        raise SpecError(f"spec cannot be read: {text[:80]!r}") from None
    value = _Reader(text).read(tree.body, 0)
    if not isinstance(value, Schedule):
        raise SpecError(f"spec must be a schedule call such as cosine(0.1, steps=100); got {text!r}")
    return value


def from_dict(data: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from ``to_dict`` output; ``from_dict(s.to_dict()) == s``."""
    return _from_dict(data, 0, "spec")


def to_dict(schedule: Schedule) -> dict[str, Any]:
    """The JSON-ready dict of a schedule (same as ``schedule.to_dict()``)."""
    return schedule.to_dict()


def as_schedule(value: Any, name: str = "schedule", *, where: str = "") -> Schedule:
    """A schedule from a `Schedule`, a text spec (`parse`) or a dict spec (`from_dict`).

    What every framework adapter accepts; `where` names the caller in the error.

    >>> as_schedule({"type": "constant", "lr": 0.1})
    lrlab.constant(0.1)
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, str):
        return parse(value)
    if isinstance(value, Mapping):
        return from_dict(value)
    raise invalid(name, value, "a Schedule, a text spec or a dict spec", where=where)


def build(name: str, args: list[Any], kwargs: dict[str, Any], where: str) -> Schedule:
    """Call the family ``name`` with checked arguments; every failure is a `SpecError`."""
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise SpecError(f"unknown schedule {name!r} in {where}; {closest_names(str(name), REGISTRY)}")
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if len(args) > len(fields):
        raise SpecError(f"{name}() takes at most {len(fields)} arguments; got {len(args)} in {where}")
    given = dict(zip(fields, args, strict=False))
    for key, value in kwargs.items():
        if key not in fields:
            hint = closest_names(key, fields)
            raise SpecError(f"{name}() has no argument {key!r}; {hint}")
        if key in given:
            raise SpecError(f"{name}() got {key} twice in {where}")
        given[key] = value
    required = [
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.name not in given
    ]
    if required:
        raise SpecError(f"{name}() needs {', '.join(required)}; missing in {where}")
    try:
        return cls(**given)
    except ScheduleError:
        raise
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise SpecError(f"{name}() cannot be built from {where}: {exc}") from None


class _Reader:
    """Turns an expression tree into values, allowing only the spec grammar."""

    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, node: ast.expr, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise SpecError(f"spec is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool | int | float | str) or value is None:
                return value
            raise SpecError(f"spec may not contain {value!r}; use numbers, strings and lists")
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            number = node.operand.value
            return -number if isinstance(node.op, ast.USub) else number
        if isinstance(node, ast.List | ast.Tuple):
            return [self.read(item, depth + 1) for item in node.elts]
        if isinstance(node, ast.Name):
            raise SpecError(
                f"unknown name {node.id!r} in spec; only schedule calls, numbers, strings and lists are allowed"
            )
        if isinstance(node, ast.BinOp):
            raise SpecError(f"arithmetic is not allowed in a spec; write the number instead of {self._src(node)!r}")
        raise SpecError(f"{self._src(node)!r} is not allowed in a spec")

    def _call(self, node: ast.Call, depth: int) -> Schedule:
        if not isinstance(node.func, ast.Name):
            raise SpecError(f"{self._src(node.func)!r} is not a schedule name")
        name = node.func.id
        if name not in REGISTRY:
            raise SpecError(f"unknown schedule {name!r}; {closest_names(name, REGISTRY)}")
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise SpecError("*arguments are not allowed in a spec")
            args.append(self.read(arg, depth + 1))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise SpecError("**arguments are not allowed in a spec")
            if kw.arg in kwargs:
                raise SpecError(f"{name}() got {kw.arg} twice")
            kwargs[kw.arg] = self.read(kw.value, depth + 1)
        return build(name, args, kwargs, self._src(node))

    def _src(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.text.strip(), node)
        return segment if segment is not None else type(node).__name__


def _from_dict(data: Any, depth: int, path: str) -> Schedule:
    if depth > MAX_DEPTH:
        raise SpecError(f"spec is nested deeper than {MAX_DEPTH} levels at {path}")
    if not isinstance(data, Mapping):
        raise SpecError(f"{path} must be a dict with a 'type' key; got {data!r}"[:300])
    kind = data.get("type")
    if not isinstance(kind, str):
        raise SpecError(f"{path} must have a string 'type'; got type={kind!r}")
    if kind not in REGISTRY:
        raise SpecError(f"unknown schedule type={kind!r} at {path}; {closest_names(kind, REGISTRY)}")
    kwargs = {key: _value(value, depth + 1, f"{path}.{key}") for key, value in data.items() if key != "type"}
    for key in kwargs:
        if not isinstance(key, str):
            raise SpecError(f"{path} has a non-string key {key!r}")
    return build(kind, [], kwargs, path)


def _value(value: Any, depth: int, path: str) -> Any:
    if depth > MAX_DEPTH:
        raise SpecError(f"spec is nested deeper than {MAX_DEPTH} levels at {path}")
    if isinstance(value, Mapping):
        return _from_dict(value, depth, path)
    if isinstance(value, list | tuple):
        return [_value(v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    raise SpecError(f"{path} must be a number, string, list or dict; got {value!r}"[:300])
