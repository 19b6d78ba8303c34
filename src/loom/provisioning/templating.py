"""Variables in catalog templates: `{{ .current.db.name | upper }}`.

A template is text with `{{ expression }}` and `{% if %}`/`{% for %}` tags. References
start with a dot and a namespace: `.current` (form input), `.output` (outputs of earlier
tasks), `.metadata` (catalog metadata by item id) and `.system` (about the request and
the platform). Hyphenated names work inside references (`.metadata.postgres-database`).

Processing runs in four phases, each a function:

* `parse(source)` → `Template`: syntax, and every construct outside the small language
  refused (`ParseError` with the line);
* `validate(template, scope)` → problems: references to what does not exist at that
  place of the catalog (`.current.nope: no form field 'nope'`);
* `resolve(template, variables)` → `Resolved`: the value of every reference, a
  `Missing` stand-in, or a `Pending` "known after task N" placeholder;
* `transform(resolved)` → `RenderResult`: pipes applied and the text (or, for a lone
  expression, the object) produced, with warnings for missing values.

It runs on jinja2's `ImmutableSandboxedEnvironment`, with a lexer that turns the leading
dots into internal names, no globals, only Loom's pipes, every operator intercepted, no
attribute access outside mappings, and limits on size and time. Nothing is ever `eval`ed.
"""

from __future__ import annotations

import inspect
import json
import math
import operator
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from time import monotonic
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from jinja2 import Undefined, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.lexer import Lexer
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS as JINJA_TESTS
from pydantic import BaseModel, ValidationError

from loom.provisioning import pipes
from loom.provisioning.pipes import PIPES, PipeError, as_text, estimate_size, to_plain

if TYPE_CHECKING:  # the catalog imports this module (to install its checker)
    from loom.catalog.references import TemplateScope

Format = Literal["text", "json"]
Key = str | int

#: Brackets a template may nest, and how deep its syntax tree may go.
MAX_NESTING = 20
MAX_DEPTH = 64
#: Largest whole number arithmetic may produce (bits).
MAX_INT_BITS = 4096
TESTS = ("defined", "undefined", "none", "boolean", "number", "string", "mapping", "sequence")
LOOP_ATTRIBUTES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"}
)


@dataclass(frozen=True)
class Limits:
    """Bounds on one rendering (the defaults suit every built-in action)."""

    max_template_chars: int = 64 * 1024
    max_output_chars: int = 64 * 1024  # per template, and per value built inside one
    max_config_chars: int = 1024 * 1024  # per config
    max_seconds: float = 1.0  # per template, or per config


DEFAULT_LIMITS = Limits()


class TemplateError(Exception):
    """A template that cannot be parsed or rendered."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(TemplateError):
    """Bad syntax, or a construct the template language does not allow."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


class RenderError(TemplateError):
    """A template that failed while rendering (too large, too slow, a bad operation)."""


# -- values -----------------------------------------------------------------------------------


class Missing(Undefined):
    """A referenced value that does not exist: empty text plus a warning once it is
    rendered; attributes, items and operations on it give itself (never an exception)."""

    __slots__ = ()

    @property
    def path(self) -> str:
        return str(self._undefined_name or self._undefined_hint or "value")

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        return self  # `.a.b` of a missing `.a`, `missing + 1`: still missing

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = __pow__ = __rpow__ = __pos__ = __neg__ = _fail_with_undefined_error
    __lt__ = __le__ = __gt__ = __ge__ = __call__ = __getitem__ = _fail_with_undefined_error  # type: ignore[assignment]

    def __str__(self) -> str:
        state = _STATE.get()
        if state is not None:
            state.warn(f"{self.path}: no value (rendered as empty text)")
        return ""


@dataclass(frozen=True)
class Pending:
    """An output a later task will produce: shown as a placeholder in request plans."""

    task: int
    key: str

    def __str__(self) -> str:
        return f"⟨known after task {self.task}: {self.key}⟩"

    def __iter__(self) -> Iterator[Pending]:
        yield self


@dataclass(frozen=True)
class Variables:
    """The values the namespaces hold when a task's config is rendered."""

    current: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    system: Mapping[str, Any] = field(default_factory=dict)
    #: Output keys not produced yet → the number of the task that will produce them
    #: (a request plan renders them as "known after task N").
    pending: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Variables:
        """From sample values `{"current": {...}, "output": {...}, ...}` (the
        test-variables tool); unknown keys are refused."""
        unknown = sorted(set(data) - {*_vocabulary().namespaces, "pending"})
        if unknown:
            raise ValueError(f"unknown namespace(s): {', '.join(unknown)}")
        for key, value in data.items():
            if not isinstance(value, Mapping):
                raise ValueError(f"'{key}' must be an object")
        return cls(**{key: dict(value) for key, value in data.items()})


def system_values(
    *,
    request_id: str,
    correlation_id: str,
    timestamp: datetime,
    user_email: str,
    user_name: str,
    user_teams: Sequence[str],
    region: str,
    environment: str,
) -> dict[str, Any]:
    """The `.system` namespace of one request."""
    return {
        "requestId": request_id,
        "correlationId": correlation_id,
        "timestamp": timestamp,
        "user": {"email": user_email, "name": user_name, "teams": list(user_teams)},
        "platform": {"region": region, "environment": environment},
    }


@dataclass(frozen=True)
class RenderResult:
    """A rendered template or config, and the warnings (missing values, pipe problems)."""

    value: Any
    warnings: tuple[str, ...] = ()


# -- the lexer: leading dots and hyphenated names -----------------------------------------------

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "elif", "else", "for"})
_OPENERS = frozenset({"(", "[", "{"})
_CLOSERS = frozenset({")", "]", "}"})
_SEGMENT = frozenset({"name", "integer", "float"})
RawToken = tuple[int, str, str]


def _starts_operand(previous: RawToken | None, spaced: bool) -> bool:
    """Whether a `.` after this token begins a reference rather than reading an attribute."""
    if previous is None or spaced:
        return True
    _, kind, value = previous
    if kind == "name":
        return value in _KEYWORDS
    return kind == "operator" and value not in _CLOSERS


def _path_tokens(tokens: list[RawToken], i: int, out: list[RawToken]) -> int:
    """Copy the `.segment` parts after a namespace; a segment that is not a plain name
    (`postgres-database`, `3d-models`) becomes a subscript `['postgres-database']`."""
    while (
        i + 1 < len(tokens) and tokens[i][1:] == ("operator", ".") and tokens[i + 1][1] in _SEGMENT
    ):
        j = i + 1
        while j < len(tokens) and (tokens[j][1] in _SEGMENT or tokens[j][1:] == ("operator", "-")):
            if tokens[j][1] == "name" and tokens[j][2].startswith("_"):
                raise _Refused(_underscore(tokens[j][2]), tokens[j][0])
            j += 1
        if j == i + 2 and tokens[i + 1][1] != "float":
            out.extend(tokens[i:j])
        else:
            segment = "".join(token[2] for token in tokens[i + 1 : j])
            line = tokens[i][0]
            out += [
                (line, "operator", "["),
                (line, "string", repr(segment)),
                (line, "operator", "]"),
            ]
        i = j
    return i


def _underscore(name: str) -> str:
    return f"'{name}': names starting with '_' are not allowed"


class _Refused(TemplateSyntaxError):
    """Refused by the lexer (its message names what the author wrote)."""


def _rewrite_tokens(raw: Iterator[RawToken]) -> list[RawToken]:
    """Inside `{{ }}` and `{% %}` only: `.current` → internal name `_current`, hyphenated
    path segments → subscripts; names starting with `_` and deep bracket nesting refused.
    Literal text is passed through untouched."""
    tokens = list(raw)
    out: list[RawToken] = []
    in_tag, spaced, depth = False, False, 0
    previous: RawToken | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        line, kind, value = token
        if kind in ("variable_begin", "block_begin"):
            in_tag, spaced, depth, previous = True, False, 0, None
        elif kind in ("variable_end", "block_end"):
            in_tag = False
        elif in_tag and kind == "whitespace":
            spaced = True
        elif in_tag:
            if kind == "name" and value.startswith("_"):
                raise _Refused(_underscore(value), line)
            is_dot = kind == "operator" and value == "." and i + 1 < len(tokens)
            if is_dot and tokens[i + 1][1] == "name" and _starts_operand(previous, spaced):
                namespace = tokens[i + 1]
                if namespace[2].startswith("_"):
                    raise _Refused(_underscore(namespace[2]), line)
                out.append((namespace[0], "name", "_" + namespace[2]))
                i = _path_tokens(tokens, i + 2, out)
                previous, spaced = namespace, False
                continue
            if kind == "operator" and value in _OPENERS:
                depth += 1
                if depth > MAX_NESTING:
                    raise _Refused(f"brackets nested more than {MAX_NESTING} deep", line)
            elif kind == "operator" and value in _CLOSERS:
                depth -= 1
            previous, spaced = token, False
        out.append(token)
        i += 1
    return out


class _Lexer(Lexer):
    def tokeniter(
        self, source: str, name: str | None, filename: str | None = None, state: str | None = None
    ) -> Iterator[RawToken]:
        return iter(_rewrite_tokens(super().tokeniter(source, name, filename, state)))


# -- the sandbox --------------------------------------------------------------------------------


@dataclass
class _RenderState:
    limits: Limits
    strict: bool
    deadline: float
    where: str = ""  # the config path being rendered, for warnings
    warnings: list[str] = field(default_factory=list)
    config_chars: int = 0

    def tick(self) -> None:
        if monotonic() > self.deadline:
            raise RenderError(f"rendering took longer than {self.limits.max_seconds:g} s")

    def warn(self, message: str) -> None:
        text = f"{self.where}: {message}" if self.where else message
        if self.strict:
            raise RenderError(text)
        if text not in self.warnings:
            self.warnings.append(text)

    def check_size(self, value: Any) -> None:
        limit = self.limits.max_output_chars
        if _size(value, limit) > limit:
            raise RenderError(f"a value would be longer than {limit} characters")


def _size(value: Any, limit: int) -> int:
    """Characters of text, or about as many as the value takes as JSON."""
    return len(value) if isinstance(value, str) else estimate_size(value, limit)


_STATE: ContextVar[_RenderState | None] = ContextVar("template_render_state", default=None)


def _state() -> _RenderState:
    state = _STATE.get()
    if state is None:  # only reachable by calling the sandbox outside a rendering
        raise RenderError("templates render through transform()")
    return state


@contextmanager
def _rendering(limits: Limits, strict: bool) -> Iterator[_RenderState]:
    state = _RenderState(limits, strict, monotonic() + limits.max_seconds)
    token = _STATE.set(state)
    limit_token = pipes.OUTPUT_LIMIT.set(limits.max_output_chars)
    try:
        yield state
    finally:
        pipes.OUTPUT_LIMIT.reset(limit_token)
        _STATE.reset(token)


_BINOPS: Mapping[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def _in_range(sequence: Sequence[Any], key: Any) -> bool:
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
    state = _state()
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
        self._lexer = _Lexer(self)

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
        _state().tick()
        if isinstance(obj, Pending | Missing):
            return obj
        if isinstance(obj, Mapping) and isinstance(argument, str) and argument in obj:
            return obj[argument]
        if isinstance(obj, str | list | tuple) and _in_range(obj, argument):
            return obj[argument]
        return Missing(name=str(argument))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("calls are not allowed in templates")


def _pipe(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A pipe as the sandbox runs it: time checked, placeholders passed through, a pipe
    error turned into a warning and empty text, the result within the size limit."""

    @pass_context  # also keeps jinja from running it at compile time
    def run(_context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        state = _state()
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
    state = _state()
    parts = [_text(_context, value) for value in values]
    if sum(map(len, parts)) > state.limits.max_output_chars:
        raise RenderError(f"'~' would build text longer than {state.limits.max_output_chars}")
    return "".join(parts)


@pass_context
def _iterate(_context: Context, value: Any) -> Iterator[Any]:
    """What `{% for %}` repeats over, checking the time at every turn."""
    state = _state()
    if isinstance(value, Missing):
        str(value)  # the warning
        return
    if isinstance(value, Mapping | list | tuple | str | Pending):
        for item in value:
            state.tick()
            yield item
        return
    state.warn(f"{{% for %}} needs a list, not {type(value).__name__}")


@pass_context
def _text(_context: Context, value: Any) -> str:
    state = _state()
    state.tick()
    state.check_size(value)
    return as_text(value)


@pass_context
def _json_value(_context: Context, value: Any) -> str:
    """An expression written where a JSON value goes: the value as JSON."""
    state = _state()
    state.check_size(value)
    if isinstance(value, Pending):
        return json.dumps(str(value), ensure_ascii=False)
    return json.dumps(to_plain(value), ensure_ascii=False)


@pass_context
def _json_string(_context: Context, value: Any) -> str:
    """An expression written inside a JSON string: its text, escaped for JSON."""
    return json.dumps(_text(_context, value), ensure_ascii=False)[1:-1]


_INTERNAL = {"_concat": _concat, "_iterate": _iterate}


@lru_cache(maxsize=2)
def _environment(fmt: Format) -> _Environment:
    """`text`: expressions become text; `json`: the template is a JSON document."""
    if fmt == "json":
        return _Environment({**_INTERNAL, "_out_value": _json_value, "_out_str": _json_string})
    return _Environment({**_INTERNAL, "_out_value": _text, "_out_str": _text})


# -- phase 1: parse -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One variable a template reads: `.metadata.postgres-database.owner`."""

    namespace: str
    path: tuple[Key, ...]
    line: int = field(default=1, compare=False)

    @property
    def text(self) -> str:
        return "." + ".".join([self.namespace, *map(str, self.path)])


@dataclass(frozen=True, eq=False)
class Template:
    """A parsed template: what it references, and its checked syntax tree."""

    source: str
    references: tuple[Reference, ...] = ()
    #: The whole text is one `{{ expression }}` (its value may be an object).
    single: bool = False
    _tree: nodes.Template | None = field(default=None, repr=False)
    _names: Mapping[Reference, str] = field(default_factory=dict, repr=False)
    _expression: nodes.Expr | None = field(default=None, repr=False)
    _programs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def plain(self) -> bool:
        """Text without any tag: it renders as itself."""
        return self._tree is None


def has_tags(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def parse(source: str, limits: Limits = DEFAULT_LIMITS) -> Template:
    """Parse and check a template; `ParseError` names the problem and its line."""
    if len(source) > limits.max_template_chars:
        raise ParseError(f"the template is longer than {limits.max_template_chars} characters")
    return _parse(source)


_INTERNAL_NAME = re.compile(r"'_([^\W_]\w*)'")


@lru_cache(maxsize=8192)
def _parse(source: str) -> Template:
    if not has_tags(source):
        return Template(source)
    env = _environment("text")
    try:
        tree = env.parse(source)
    except _Refused as exc:
        raise ParseError(exc.message or "refused", exc.lineno) from None
    except TemplateSyntaxError as exc:  # jinja's words: '_current' is what `.current` became
        message = _INTERNAL_NAME.sub(r"'.\1'", exc.message or "syntax error")
        raise ParseError(message, exc.lineno) from None
    except RecursionError:
        raise ParseError("the template is nested too deeply") from None
    _check_depth(tree)
    checker = _Checker()
    tree = checker.template(tree)
    tree.set_environment(env)
    single = (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and isinstance(tree.body[0].nodes[0], nodes.Filter)
    )
    expression = tree.body[0].nodes[0].node if single else None  # type: ignore[attr-defined]
    return Template(source, tuple(checker.references), single, tree, checker.names, expression)


def _check_depth(tree: nodes.Node) -> None:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(
                f"the template is nested more than {MAX_DEPTH} levels deep", node.lineno
            )
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


_REFUSED: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
    nodes.Scope: "{% autoescape %}",
}
_SIMPLE = (
    nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand,
    nodes.BinExpr, nodes.Slice, nodes.If, nodes.Output, nodes.TemplateData,
)  # fmt: skip


def _pipe_problem(name: str, args: list[nodes.Expr], kwargs: list[Any]) -> str | None:
    """Arguments a pipe cannot take (known before running it)."""
    signature, hints = _signature(name)
    try:
        bound = signature.bind(None, *args, **{k.key: k.value for k in kwargs})
    except TypeError as exc:
        return f"{name}: {exc}"
    for param, node in list(bound.arguments.items())[1:]:
        hint = hints.get(param, Any)
        if isinstance(node, nodes.Const) and hint is not Any:
            allowed = typing.get_args(hint) or (hint,)
            value = node.value
            if isinstance(value, bool) or not isinstance(
                value, tuple(a for a in allowed if isinstance(a, type))
            ):
                names = " or ".join(
                    "null" if a is type(None) else _TYPE_NAMES.get(a, str(a)) for a in allowed
                )
                return f"{name}: '{param}' must be {names}"
    return None


_TYPE_NAMES = {int: "a whole number", str: "text"}


@cache
def _signature(name: str) -> tuple[inspect.Signature, dict[str, Any]]:
    fn = PIPES[name]
    return inspect.signature(fn), typing.get_type_hints(fn)


class _Checker:
    """Walks the syntax tree once: refuses what the language does not allow, collects
    the references and replaces each by an internal name, and wraps the operations the
    sandbox must watch (`~`, `{% for %}`, every `{{ }}` output)."""

    def __init__(self) -> None:
        self.references: list[Reference] = []
        self.names: dict[Reference, str] = {}
        self._in_json_string = False  # for the `json` format: is an output inside "..."?

    def template(self, tree: nodes.Template) -> nodes.Template:
        tree.body = [self.visit(node, frozenset()) for node in tree.body]
        return tree

    def _refuse(self, node: nodes.Node, message: str) -> typing.NoReturn:
        raise ParseError(message, node.lineno or 1)

    def visit(self, node: Any, bound: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [self.visit(child, bound) for child in node]
        if not isinstance(node, nodes.Node):
            return node
        if type(node) in _REFUSED:
            self._refuse(node, f"{_REFUSED[type(node)]} is not allowed: templates use "
                               "{{ expressions }}, {% if %} and {% for %}")  # fmt: skip
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            reference = self._reference(node)
            if reference is not None:
                return nodes.Name(self._name_of(reference), "load", lineno=node.lineno)
        if isinstance(node, nodes.Name):
            if node.name not in bound:
                self._refuse(node, f"unknown name '{node.name}' (values come from .current, "
                                   ".output, .metadata or .system)")  # fmt: skip
            return node
        if isinstance(node, nodes.Getattr):
            self._check_field(node, node.node, node.attr, bound)
        elif isinstance(node, nodes.Getitem):
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, str):
                self._check_field(node, node.node, key, bound)
        elif isinstance(node, nodes.Call):
            self._refuse(node, "calling functions or methods is not allowed (use pipes: "
                               "{{ .current.name | upper }})")  # fmt: skip
        elif isinstance(node, nodes.Filter | nodes.Test):
            self._check_filter_or_test(node)
        elif isinstance(node, nodes.For):
            return self._for(node, bound)
        elif isinstance(node, nodes.Concat):
            parts = nodes.List(self.visit(node.nodes, bound), lineno=node.lineno)
            return nodes.Filter(parts, "_concat", [], [], None, None, lineno=node.lineno)
        elif isinstance(node, nodes.Output):
            node.nodes = [self._output(child, bound) for child in node.nodes]
            return node
        elif not isinstance(node, _SIMPLE):
            self._refuse(node, f"'{type(node).__name__}' is not allowed in templates")
        for name in node.fields:
            setattr(node, name, self.visit(getattr(node, name), bound))
        return node

    def _output(self, child: nodes.Expr, bound: frozenset[str]) -> nodes.Expr:
        if isinstance(child, nodes.TemplateData):
            self._scan_json(child.data)
            return child
        name = "_out_str" if self._in_json_string else "_out_value"
        expression = self.visit(child, bound)
        return nodes.Filter(expression, name, [], [], None, None, lineno=child.lineno)

    def _scan_json(self, text: str) -> None:
        escaped = False
        for char in text:
            if escaped:
                escaped = False
            elif char == "\\" and self._in_json_string:
                escaped = True
            elif char == '"':
                self._in_json_string = not self._in_json_string

    def _for(self, node: nodes.For, bound: frozenset[str]) -> nodes.For:
        if node.recursive:
            self._refuse(node, "recursive loops are not allowed")
        target = node.target
        names = [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))
        inner = bound | {n.name for n in names} | {"loop"}
        iterable = self.visit(node.iter, bound)
        node.iter = nodes.Filter(iterable, "_iterate", [], [], None, None, lineno=node.lineno)
        node.test = self.visit(node.test, inner)
        node.body = self.visit(node.body, inner)
        node.else_ = self.visit(node.else_, bound)
        return node

    def _check_field(
        self, node: nodes.Node, base: nodes.Node, key: str, bound: frozenset[str]
    ) -> None:
        if key.startswith("_"):
            self._refuse(node, _underscore(key))
        if isinstance(base, nodes.Literal):
            self._refuse(node, f"a literal value has no field '{key}'")
        is_loop = isinstance(base, nodes.Name) and base.name == "loop" and "loop" in bound
        if is_loop and key not in LOOP_ATTRIBUTES:
            self._refuse(node, f"loop has no '{key}' (known: {', '.join(sorted(LOOP_ATTRIBUTES))})")

    def _check_filter_or_test(self, node: nodes.Filter | nodes.Test) -> None:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self._refuse(node, f"'{node.name}': * and ** arguments are not allowed")
        if isinstance(node, nodes.Test):
            if node.name not in TESTS:
                self._refuse(node, f"unknown test '{node.name}' (known: {', '.join(TESTS)})")
            if node.args or node.kwargs:
                self._refuse(node, f"the test '{node.name}' takes no arguments")
            return
        if node.name not in PIPES:
            known = ", ".join(sorted(PIPES))
            self._refuse(node, f"unknown pipe '{node.name}' (known: {known})")
        problem = _pipe_problem(node.name, node.args, node.kwargs)
        if problem:
            self._refuse(node, problem)

    def _reference(self, node: nodes.Node) -> Reference | None:
        """The reference a chain of constant lookups on a namespace spells, if any."""
        keys: list[Key] = []
        while True:
            if isinstance(node, nodes.Getattr):
                keys.append(node.attr)
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                key = node.arg.value
                if isinstance(key, bool) or not isinstance(key, str | int):
                    return None
                keys.append(key)
                node = node.node
            elif isinstance(node, nodes.Name) and node.name.startswith("_"):
                break
            else:
                return None
        for key in keys:
            if isinstance(key, str) and key.startswith("_"):
                self._refuse(node, _underscore(key))
        return Reference(node.name[1:], tuple(reversed(keys)), node.lineno or 1)

    def _name_of(self, reference: Reference) -> str:
        if reference not in self.names:
            self.names[reference] = f"_r{len(self.names)}"
            self.references.append(reference)
        return self.names[reference]


# -- phase 2: validate --------------------------------------------------------------------------


class _Vocabulary(NamedTuple):
    namespaces: tuple[str, ...]
    system: frozenset[str]
    metadata: frozenset[str]


@cache
def _vocabulary() -> _Vocabulary:
    """The catalog's words for references (imported late: the catalog imports this
    module to install its checker)."""
    from loom.catalog import references

    return _Vocabulary(references.NAMESPACES, references.SYSTEM_KEYS, references.METADATA_FIELDS)


def validate(template: Template, scope: TemplateScope) -> list[str]:
    """Problems with the template's references at this place of the catalog, each as
    `<reference>: <what is wrong>` (empty when every reference will have a value)."""
    problems = (_problem(reference, scope) for reference in template.references)
    return [problem for problem in problems if problem]


def _problem(reference: Reference, scope: TemplateScope) -> str | None:
    ref, path = reference.text, reference.path
    names = [str(key) for key in path]
    namespace = reference.namespace
    known = _vocabulary()
    if namespace not in known.namespaces:
        return f"{ref}: unknown namespace (use one of {', '.join(known.namespaces)})"
    if not path:
        return f"{ref}: name a value inside the namespace"
    if namespace == "current":
        return _current_problem(ref, path, scope.current)
    if namespace == "output":
        if names[0] not in scope.outputs:
            return f"{ref}: no earlier action produces output '{names[0]}'"
        return None
    if namespace == "system":
        key = ".".join(str(k) for k in _without_indexes(path))
        if key not in known.system:
            return f"{ref}: unknown system value (known: {', '.join(sorted(known.system))})"
        return None
    return _metadata_problem(ref, names, scope)


def _without_indexes(path: tuple[Key, ...]) -> tuple[Key, ...]:
    end = len(path)
    while end > 1 and isinstance(path[end - 1], int):
        end -= 1
    return path[:end]


def _current_problem(
    ref: str, path: tuple[Key, ...], fields: typing.AbstractSet[str]
) -> str | None:
    names = [str(key) for key in path]
    full = ".".join(names)
    if ".".join(str(k) for k in _without_indexes(path)) in fields:
        return None
    for end in range(len(names) - 1, 0, -1):
        prefix = ".".join(names[:end])
        if prefix in fields and not any(f.startswith(prefix + ".") for f in fields):
            rest = names[end]
            hint = (
                f" (to transform it, use a pipe: .current.{prefix} | {rest})"
                if rest in PIPES
                else ""
            )
            return f"{ref}: '{prefix}' is a form value, not a group; it has no field '{rest}'{hint}"
    return f"{ref}: no form field '{full}'"


def _metadata_problem(ref: str, names: list[str], scope: TemplateScope) -> str | None:
    item_id, rest = names[0], names[1:]
    metadata = scope.metadata.get(item_id)
    if metadata is None:
        return f"{ref}: no catalog item '{item_id}'"
    if not rest:
        return None
    if rest[0] not in _vocabulary().metadata:
        return f"{ref}: items have no metadata field '{rest[0]}'"
    custom = metadata.get("custom") or {}
    if rest[0] == "custom" and len(rest) > 1 and rest[1] not in custom:
        return f"{ref}: item '{item_id}' has no custom field '{rest[1]}'"
    return None


def check(template: str, scope: TemplateScope) -> list[str]:
    """The catalog's template check: parse and validate, every problem as a message."""
    if not has_tags(template):
        return []
    references = _quick_references(template)
    if references is None:
        try:
            references = parse(template).references
        except ParseError as exc:
            return [_located(exc, template)]
    problems = (_problem(reference, scope) for reference in references)
    return [problem for problem in problems if problem]


_QUICK_TAG = (
    r"\{\{-?\s*\.([A-Za-z]\w*)((?:\.[A-Za-z][A-Za-z0-9]*(?:(?:-|_+)[A-Za-z0-9]+)*)*)\s*-?\}\}"
)
_QUICK = re.compile(rf"(?:[^{{]|\{{(?![{{%#])|{_QUICK_TAG})*")


@lru_cache(maxsize=8192)
def _quick_references(source: str) -> tuple[Reference, ...] | None:
    """The references of a template made only of text and `{{ .plain.references }}`
    (most catalog templates), found without the parser; None for any other template.
    Gives what `parse(source).references` gives (tests hold the two together)."""
    if not _QUICK.fullmatch(source):
        return None
    seen: dict[Reference, None] = {}
    for match in re.finditer(_QUICK_TAG, source):
        path = tuple(match.group(2).split(".")[1:])
        seen.setdefault(Reference(match.group(1), path, source.count("\n", 0, match.start(1)) + 1))
    return tuple(seen)


def _located(exc: ParseError, source: str) -> str:
    return f"{exc.message} (line {exc.line})" if "\n" in source.rstrip("\n") else exc.message


def install() -> None:
    """Make this engine the catalog's template checker (replacing the default one);
    `loom.catalog` calls it when it is imported, so every catalog load uses it."""
    from loom.catalog.references import set_template_checker

    set_template_checker(check)


# -- phase 3: resolve ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """A template with the value of each of its references."""

    template: Template
    values: Mapping[Reference, Any]


def resolve(template: Template, variables: Variables) -> Resolved:
    """Look up every reference: its value, `Missing` when there is none, or `Pending`
    for an output a later task will produce."""
    return Resolved(template, {ref: _lookup(ref, variables) for ref in template.references})


def _lookup(reference: Reference, variables: Variables) -> Any:
    roots: Mapping[str, Any] = {
        "current": variables.current,
        "output": variables.output,
        "metadata": variables.metadata,
        "system": variables.system,
    }
    if reference.namespace not in roots:
        return Missing(name=reference.text)
    path = reference.path
    if reference.namespace == "output" and path and path[0] not in variables.output:
        task = variables.pending.get(str(path[0]))
        if task is not None:
            return Pending(task, ".".join(map(str, path)))
    value = roots[reference.namespace]
    for key in path:
        found = isinstance(value, Mapping) and isinstance(key, str) and key in value
        if not (found or (isinstance(value, list | tuple) and _in_range(value, key))):
            return Missing(name=reference.text)
        value = value[key]
    return value


# -- phase 4: transform -------------------------------------------------------------------------


def transform(
    resolved: Resolved,
    *,
    fmt: Format = "text",
    keep_objects: bool = False,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Render: pipes applied, values formatted for `fmt` (`text`, or `json` for a JSON
    document whose expressions are JSON-escaped). With `keep_objects`, a template that
    is one expression gives its value as JSON data (an object, a list, a number, a
    boolean, null) unless it is text. Missing values give empty text and a warning
    (with `strict`, a RenderError)."""
    with _rendering(limits, strict) as state:
        value = _evaluate(resolved, fmt, keep_objects, state)
    return RenderResult(value, tuple(state.warnings))


def _evaluate(resolved: Resolved, fmt: Format, keep_objects: bool, state: _RenderState) -> Any:
    template = resolved.template
    if template.plain:
        return template.source
    context = {template._names[ref]: value for ref, value in resolved.values.items()}
    try:
        if keep_objects and template.single:
            program = _program(template, "value")
            ctx = program.new_context(context)
            for _chunk in program.root_render_func(ctx):
                pass
            value = ctx.vars["_result"]
            if isinstance(value, Mapping | list | tuple):
                state.check_size(value)
                return to_plain(value)
            if value is None or isinstance(value, bool | int | float):
                return value  # keeps its JSON type: `"{{ .current.replicas }}"` is 3
            return _text(ctx, value)
        program = _program(template, fmt)
        chunks: list[str] = []
        size = 0
        for chunk in program.root_render_func(program.new_context(context)):
            size += len(chunk)
            if size > state.limits.max_output_chars:
                raise RenderError(
                    f"the text is longer than {state.limits.max_output_chars} characters"
                )
            state.tick()
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateError:
        raise
    except Exception as exc:  # anything the template itself did wrong (1 / 0, 'a' < 1)
        raise RenderError(f"cannot render: {exc}") from None


def _program(template: Template, kind: str) -> Any:
    """The compiled template (`text`, `json`) or lone expression (`value`), cached."""
    program = template._programs.get(kind)
    if program is None:
        assert template._tree is not None
        env = _environment("json" if kind == "json" else "text")
        tree = template._tree
        if kind == "value":
            assert template._expression is not None
            target = nodes.Name("_result", "store", lineno=1)
            tree = nodes.Template([nodes.Assign(target, template._expression, lineno=1)], lineno=1)
            tree.set_environment(env)
        program = env.template_class.from_code(env, env.compile(tree), env.make_globals(None))
        template._programs[kind] = program
    return program


# -- whole configs ------------------------------------------------------------------------------


def render(
    source: str,
    variables: Variables,
    *,
    fmt: Format = "text",
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """All four phases for one template string (the text it renders to)."""
    return transform(
        resolve(parse(source, limits), variables), fmt=fmt, strict=strict, limits=limits
    )


def render_config(
    config: Any,
    variables: Variables,
    *,
    model: type[BaseModel] | None = None,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Render every string of an action config (keys stay as written). A string that is
    one expression keeps its value's JSON type (`"{{ .current.tags }}"` becomes a list,
    `"{{ .current.replicas }}"` a number); with `model`, such values are written as text
    wherever the model requires text."""
    with _rendering(limits, strict) as state:
        value = _render_value(config, "", variables, state)
    if model is not None:
        value = fit_strings(model, value)
    return RenderResult(value, tuple(state.warnings))


def _render_value(value: Any, where: str, variables: Variables, state: _RenderState) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _render_value(child, f"{where}.{key}" if where else str(key), variables, state)
            for key, child in value.items()
        }
    if isinstance(value, list | tuple):
        return [_render_value(v, f"{where}[{i}]", variables, state) for i, v in enumerate(value)]
    if not isinstance(value, str) or not has_tags(value):
        return value
    state.where = where
    try:
        template = parse(value, state.limits)
    except ParseError as exc:
        raise RenderError(f"{where}: {_located(exc, value)}") from None
    try:
        rendered = _evaluate(resolve(template, variables), "text", True, state)
    except RenderError as exc:
        raise RenderError(f"{where}: {exc.message}") from None
    state.config_chars += _size(rendered, state.limits.max_config_chars)
    if state.config_chars > state.limits.max_config_chars:
        raise RenderError(f"the config is longer than {state.limits.max_config_chars} characters")
    return rendered


def fit_strings(model: type[BaseModel], value: Any) -> Any:
    """Write values as text where `model` requires text (a header, a query value): lists
    and objects as JSON, numbers and booleans as they render in text, null as nothing.
    So a lone `{{ .current.tags }}` or `{{ .current.replicas }}` fits any field."""
    for _attempt in range(3):
        try:
            model.model_validate(value)
            return value
        except ValidationError as exc:
            fixes = [
                (err["loc"], err["input"])
                for err in exc.errors()
                if err["type"] == "string_type" and not isinstance(err["input"], str)
            ]
        if not fixes:
            return value
        for loc, data in fixes:
            _replace_at(value, loc, as_text(data))
    return value


def _replace_at(value: Any, loc: tuple[Key, ...], new: Any) -> None:
    for key in loc[:-1]:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1]
    in_dict = isinstance(value, dict) and last in value
    if in_dict or (isinstance(value, list) and _in_range(value, last)):
        value[last] = new
