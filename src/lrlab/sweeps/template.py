"""Sweep templates: a text spec with ``{expression}`` placeholders, and how numbers print in specs.

A template such as::

    warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})

holds placeholders in braces. A placeholder holds a parameter name or a small
arithmetic expression of parameters and numbers (``+ - * / // **``,
parentheses, unary minus). It is read with `ast` and evaluated by a tiny
interpreter, never with ``eval``. Results are rounded to 12 significant
digits, and whole numbers print as ints, so ``{30-w}`` with ``w=5`` gives
``steps=25`` and ``{0.1*30}`` gives ``3``.

>>> Template("warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})").render({"w": 5})
'warmup(cosine(0.3, steps=25, final_lr=0.01), steps=5)'
"""

from __future__ import annotations

import ast
import math
import numbers
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from lrlab.errors import SweepError, invalid

__all__ = ["Number", "Placeholder", "Template", "format_number", "setting_label"]

Number = int | float

#: significant digits kept for placeholder results (hides float noise such as 3.0000000000000004)
SIGNIFICANT_DIGITS = 12

_MAX_TEMPLATE = 10_000


def bad(name: str, value: Any, requirement: str, where: str = "") -> SweepError:
    """The `SweepError` of every sweep module: ``[where: ]name must be ...; got name=value``."""
    return cast(SweepError, invalid(name, value, requirement, where=where, error=SweepError))


# -- numbers --------------------------------------------------------------------
def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits."""
    return float(f"{float(value):.{digits}g}")


def format_number(value: Number) -> str:
    """A number as spec text: rounded to 12 significant digits, whole numbers as ints.

    >>> format_number(25.0), format_number(3.0000000000000004), format_number(0.001), format_number(-0.0)
    ('25', '3', '0.001', '0')
    """
    x = round_significant(value)
    if x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def is_number(value: Any) -> bool:
    """Whether `value` is a real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def setting_label(params: Mapping[str, Number]) -> str:
    """``"lr=0.01, w=5"``: the sorted parameters, for people."""
    return ", ".join(f"{k}={format_number(v)}" for k, v in sorted(params.items()))


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
            raise bad("template", text, "a non-empty text spec such as 'cosine({lr}, steps=30)'")
        if len(text) > _MAX_TEMPLATE:
            raise bad("template", text[:60] + "...", f"at most {_MAX_TEMPLATE} characters")
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
        elif isinstance(node, ast.Constant) and is_number(node.value) and math.isfinite(float(node.value)):  # type: ignore[arg-type]
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
