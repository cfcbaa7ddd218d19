"""Launch substitutions `$(name arg ...)`: parsing, evaluation and a safe `$(eval)`.

The grammar follows launch's frontend: a substitution is `$(` name, then arguments separated
by spaces, then `)`; an argument may be quoted with '…' or "…" (quotes may hold spaces and
nested substitutions) and may itself contain substitutions: `$(find-pkg-share $(var pkg))`.
What each name means is up to the caller (`launch.py`); this module knows only the syntax
and the small Python subset that `$(eval)` accepts locally.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SubstitutionError(ValueError):
    """A malformed or failing substitution; the caller adds file, line and attribute."""


@dataclass(frozen=True)
class Substitution:
    name: str
    args: tuple[tuple[Fragment, ...], ...]


Fragment = str | Substitution


def parse(text: str) -> list[Fragment]:
    """Split `text` into literal strings and substitutions."""
    fragments, _ = _parse_text(text, 0, stop=None)
    return fragments


def has_substitutions(text: str) -> bool:
    return "$(" in text


def evaluate(fragments: list[Fragment] | tuple[Fragment, ...],
             resolve: Callable[[str, list[str]], str]) -> str:
    """Join the fragments, asking `resolve(name, evaluated_args)` for each substitution."""
    out = []
    for fragment in fragments:
        if isinstance(fragment, str):
            out.append(fragment)
        else:
            args = [evaluate(arg, resolve) for arg in fragment.args]
            out.append(resolve(fragment.name, args))
    return "".join(out)


def substitute(text: str, resolve: Callable[[str, list[str]], str]) -> str:
    return evaluate(parse(text), resolve) if has_substitutions(text) else text


# --- parser ------------------------------------------------------------------------------
def _parse_text(text: str, pos: int, stop: str | None) -> tuple[list[Fragment], int]:
    """Literal text with substitutions, up to the quote `stop` (or the end)."""
    fragments: list[Fragment] = []
    literal: list[str] = []
    while pos < len(text):
        if stop is not None and text[pos] == stop:
            break
        if text.startswith("$(", pos):
            if literal:
                fragments.append("".join(literal))
                literal = []
            sub, pos = _parse_substitution(text, pos)
            fragments.append(sub)
            continue
        literal.append(text[pos])
        pos += 1
    if stop is not None and pos >= len(text):
        raise SubstitutionError(f"unterminated quote {stop} in '{text}'")
    if literal:
        fragments.append("".join(literal))
    return fragments, pos


def _parse_substitution(text: str, pos: int) -> tuple[Substitution, int]:
    start = pos
    pos += 2
    name_start = pos
    while pos < len(text) and (text[pos].isalnum() or text[pos] in "-_"):
        pos += 1
    name = text[name_start:pos]
    if not name:
        raise SubstitutionError(f"substitution at column {start + 1} of '{text}' has no name "
                                "(expected e.g. $(var name))")
    args: list[tuple[Fragment, ...]] = []
    while True:
        while pos < len(text) and text[pos] in " \t\n":
            pos += 1
        if pos >= len(text):
            raise SubstitutionError(f"unterminated substitution '$({name}' in '{text}': "
                                    "missing ')'")
        if text[pos] == ")":
            return Substitution(name, tuple(args)), pos + 1
        arg, pos = _parse_argument(text, pos)
        args.append(tuple(arg))


def _parse_argument(text: str, pos: int) -> tuple[list[Fragment], int]:
    parts: list[Fragment] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            parts.append("".join(literal))
            literal.clear()

    while pos < len(text) and text[pos] not in " \t\n)":
        ch = text[pos]
        if ch in "'\"":
            flush()
            quoted, pos = _parse_text(text, pos + 1, stop=ch)
            parts.extend(quoted)
            pos += 1
        elif text.startswith("$(", pos):
            flush()
            sub, pos = _parse_substitution(text, pos)
            parts.append(sub)
        else:
            literal.append(ch)
            pos += 1
    flush()
    return parts, pos


# --- $(eval) -----------------------------------------------------------------------------
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round, "int": int, "float": float,
    "str": str, "bool": bool, "len": len,
}
_MATH = {k: v for k, v in vars(math).items() if not k.startswith("_")}


def safe_eval(expression: str) -> str:
    """`$(eval ...)` for literals, arithmetic, comparisons, and/or/not, `x if c else y` and
    math functions; returns `str(result)` as launch's PythonExpression does."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        raise SubstitutionError(f"$(eval): '{expression}' is not a Python expression: "
                                f"{err.msg}") from None
    try:
        return str(_eval(tree.body, expression))
    except SubstitutionError:
        raise
    except (ArithmeticError, TypeError, ValueError) as err:
        raise SubstitutionError(f"$(eval '{expression}') failed: {err}") from None


def _eval(node: ast.AST, expression: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item, expression) for item in node.elts]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, expression), _eval(node.right, expression)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 64:
            raise SubstitutionError(f"$(eval): exponent {right} is too large in '{expression}'")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, expression))
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, expression) for v in node.values]
        if isinstance(node.op, ast.And):
            return all(values) and values[-1]
        return next((v for v in values if v), values[-1])
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, expression)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, expression)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, expression) else node.orelse
        return _eval(branch, expression)
    if isinstance(node, ast.Name) and node.id in _MATH and not callable(_MATH[node.id]):
        return _MATH[node.id]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "math" and node.attr in _MATH:
        return _MATH[node.attr]
    if isinstance(node, ast.Call) and not node.keywords:
        function = _function(node.func)
        if function is not None:
            return function(*[_eval(a, expression) for a in node.args])
    raise SubstitutionError(
        f"$(eval) supports only literals, arithmetic, comparisons, and/or/not, "
        f"'a if c else b' and math functions locally; '{ast.unparse(node)}' in "
        f"'{expression}' is outside that (quote strings: $(eval \"'$(var mode)' == 'sim'\"))"
    )


def _function(func: ast.AST) -> Callable[..., Any] | None:
    if isinstance(func, ast.Name):
        if func.id in _FUNCTIONS:
            return _FUNCTIONS[func.id]
        if func.id in _MATH and callable(_MATH[func.id]):
            return _MATH[func.id]
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "math" and callable(_MATH.get(func.attr)):
        return _MATH[func.attr]
    return None
