"""The jinja2 sandbox templates run in: no globals, no calls, no Python attributes,
only Loom's pipes and tests, every operator checked against the limits, and the time
checked at every step."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.lexer import Lexer
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS as JINJA_TESTS

from loom.provisioning.templating.errors import RenderError
from loom.provisioning.templating.lexer import DotLexer
from loom.provisioning.templating.limits import MAX_INT_BITS
from loom.provisioning.templating.output import (
    Format,
    output_json_string,
    output_json_value,
    output_text,
)
from loom.provisioning.templating.pipes import PIPES, PipeError, estimate_size
from loom.provisioning.templating.state import current_state
from loom.provisioning.templating.values import Missing, Pending

TESTS = ("defined", "undefined", "none", "boolean", "number", "string", "mapping", "sequence")
LOOP_ATTRIBUTES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"}
)


_BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def in_range(sequence: Sequence[Any], key: Any) -> bool:
    """Whether `sequence[key]` is an item (an index in range) or a slice."""
    if isinstance(key, slice):
        return True
    return (
        isinstance(key, int) and not isinstance(key, bool) and -len(sequence) <= key < len(sequence)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _binop(operator_: str, left: Any, right: Any) -> Any:
    """An arithmetic operator within the limits: text and lists only join (`+`) or
    repeat (`*`) up to the size limit, `%` and `**` only on numbers, no huge numbers."""
    state = current_state()
    state.tick()
    for value in (left, right):
        if isinstance(value, Pending | Undefined):
            return value
    limit = state.limits.max_output_chars
    sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
    if operator_ in ("%", "**") and not (_is_number(left) and _is_number(right)):
        raise RenderError(f"'{operator_}' only works on numbers")
    if operator_ == "*" and sized:
        times = right if sized[0] is left else left
        if _is_number(times) and estimate_size(sized[0], limit) * max(int(times), 0) > limit:
            raise RenderError(f"'*' would build a value longer than {limit} characters")
    if operator_ == "+" and sized and sum(estimate_size(v, limit) for v in sized) > limit:
        raise RenderError(f"'+' would build a value longer than {limit} characters")
    if operator_ == "**" and abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
        raise RenderError(f"'**' would build a number larger than 2^{MAX_INT_BITS}")
    result = _BINOPS[operator_](left, right)
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise RenderError(f"'{operator_}' would build a number larger than 2^{MAX_INT_BITS}")
    return result


class _Environment(ImmutableSandboxedEnvironment):
    """The jinja2 sandbox with Loom's rules: only mappings have fields (no Python
    attributes at all), no calls, every binary operator checked, no globals."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, outputs: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__(
            autoescape=False, undefined=Missing, keep_trailing_newline=True, optimized=False
        )
        self.globals.clear()
        self.filters = {**{name: _pipe(name, fn) for name, fn in PIPES.items()}, **outputs}
        self.tests = {name: JINJA_TESTS[name] for name in TESTS}
        self._lexer = DotLexer(self)

    @property
    def lexer(self) -> Lexer:
        return self._lexer

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return _binop(operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, LoopContext) and attribute in LOOP_ATTRIBUTES:
            return getattr(obj, attribute)
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        current_state().tick()
        if isinstance(obj, Pending | Missing):
            return obj
        if isinstance(obj, Mapping) and isinstance(argument, str) and argument in obj:
            return obj[argument]
        if isinstance(obj, str | list | tuple) and in_range(obj, argument):
            return obj[argument]
        return Missing(name=str(argument))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("calls are not allowed in templates")


def _pipe(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A pipe as the sandbox runs it: time checked, placeholders passed through, a pipe
    error turned into a warning and empty text, the result within the size limit."""

    @pass_context  # also keeps jinja from running it at compile time
    def run(_context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        state = current_state()
        state.tick()
        if isinstance(value, Pending):
            return value
        pending = [a for a in (*args, *kwargs.values()) if isinstance(a, Pending)]
        if pending and name != "default":
            return pending[0]
        try:
            result = fn(value, *args, **kwargs)
        except PipeError as exc:
            state.warn(f"{name}: {exc}")
            return ""
        state.check_size(result)
        return result

    return run


@pass_context
def _concat(_context: Context, values: list[Any]) -> str:
    """`a ~ b`, within the size limit."""
    state = current_state()
    parts = [output_text(_context, value) for value in values]
    if sum(map(len, parts)) > state.limits.max_output_chars:
        raise RenderError(f"'~' would build text longer than {state.limits.max_output_chars}")
    return "".join(parts)


@pass_context
def _iterate(_context: Context, value: Any) -> Iterator[Any]:
    """What `{% for %}` repeats over, checking the time at every turn."""
    state = current_state()
    if isinstance(value, Missing):
        str(value)  # the warning
        return
    if isinstance(value, Mapping | list | tuple | str | Pending):
        for item in value:
            state.tick()
            yield item
        return
    state.warn(f"{{% for %}} needs a list, not {type(value).__name__}")


_INTERNAL = {"_concat": _concat, "_iterate": _iterate}


@lru_cache(maxsize=2)
def environment(fmt: Format) -> _Environment:
    """`text`: expressions become text; `json`: the template is a JSON document."""
    if fmt == "json":
        return _Environment(
            {**_INTERNAL, "_out_value": output_json_value, "_out_str": output_json_string}
        )
    return _Environment({**_INTERNAL, "_out_value": output_text, "_out_str": output_text})
