"""The lexer: inside `{{ }}` and `{% %}`, a leading dot starts a reference
(`.current` becomes the internal name `_current`) and hyphenated path segments
(`.metadata.postgres-database`) become subscripts; names starting with `_` and deep
bracket nesting are refused."""

from __future__ import annotations

from collections.abc import Iterator

from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import Lexer

from loom.provisioning.templating.limits import MAX_NESTING

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
                raise Refused(underscore_message(tokens[j][2]), tokens[j][0])
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


def underscore_message(name: str) -> str:
    return f"'{name}': names starting with '_' are not allowed"


class Refused(TemplateSyntaxError):
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
                raise Refused(underscore_message(value), line)
            is_dot = kind == "operator" and value == "." and i + 1 < len(tokens)
            if is_dot and tokens[i + 1][1] == "name" and _starts_operand(previous, spaced):
                namespace = tokens[i + 1]
                if namespace[2].startswith("_"):
                    raise Refused(underscore_message(namespace[2]), line)
                out.append((namespace[0], "name", "_" + namespace[2]))
                i = _path_tokens(tokens, i + 2, out)
                previous, spaced = namespace, False
                continue
            if kind == "operator" and value in _OPENERS:
                depth += 1
                if depth > MAX_NESTING:
                    raise Refused(f"brackets nested more than {MAX_NESTING} deep", line)
            elif kind == "operator" and value in _CLOSERS:
                depth -= 1
            previous, spaced = token, False
        out.append(token)
        i += 1
    return out


class DotLexer(Lexer):
    def tokeniter(
        self, source: str, name: str | None, filename: str | None = None, state: str | None = None
    ) -> Iterator[RawToken]:
        return iter(_rewrite_tokens(super().tokeniter(source, name, filename, state)))
