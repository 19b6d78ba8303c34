"""The pipe functions templates may use (`{{ .current.name | slug }}`), and how template
values become text.

A pipe takes the value on its left and the arguments in its parentheses. Pipes never
echo a value in an error (it may be a secret) and never build text longer than the
current output limit: both raise `PipeError`, which the renderer turns into a warning.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from typing import Any

import yaml
from jinja2 import Undefined

#: The longest text a pipe may produce; the renderer sets it from its limits.
OUTPUT_LIMIT: ContextVar[int] = ContextVar("pipe_output_limit", default=64 * 1024)
_MAX_NESTING = 100
_STRFTIME = re.compile(r"(?:[^%]|%-?[a-zA-Z%])*")


class PipeError(ValueError):
    """A pipe cannot handle its input or arguments (the message never includes the value)."""


# -- values as text -------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """The text a value renders as: strings as they are, booleans as `true`/`false`,
    nothing as empty text, dates in ISO 8601, lists and objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # "" (a missing value records its own warning)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(to_plain(value), ensure_ascii=False)
    return str(value)


def to_plain(value: Any, _depth: int = 0) -> Any:
    """The value as plain JSON data: mappings become dicts with text keys, sequences
    lists, dates ISO text, missing values null, anything else its text."""
    if _depth > _MAX_NESTING:
        raise PipeError(f"the value is nested more than {_MAX_NESTING} levels deep")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Undefined):
        str(value)  # records the warning
        return None
    if isinstance(value, Mapping):
        return {as_text(k): to_plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v, _depth + 1) for v in value]
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def estimate_size(value: Any, limit: int) -> int:
    """About how many characters the value takes as JSON; stops counting past `limit`
    (so a huge value costs no more than the limit to measure)."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2
            for key, child in item.items():
                total += len(str(key)) + 4
                stack.append(child)
                if total > limit:
                    break
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total <= limit:  # so at most `limit` items are ever queued
                stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 8
    return total


def check_length(size: int) -> None:
    limit = OUTPUT_LIMIT.get()
    if size > limit:
        raise PipeError(f"the result would be longer than {limit} characters")


def _text_arg(name: str, value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        raise PipeError(f"'{name}' must be text")
    return as_text(value)


def _int_arg(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PipeError(f"'{name}' must be a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise PipeError(f"'{name}' must be {bound}")
    return value


def _is_empty(value: Any) -> bool:
    return isinstance(value, Undefined) or value is None or value == ""


# -- the pipes ------------------------------------------------------------------------------


def default(value: Any, fallback: Any = "") -> Any:
    """`default(fallback)`: the fallback when the value is missing, null or empty text;
    otherwise the value. `{{ .current.replicas | default(2) }}`."""
    return fallback if _is_empty(value) else value


def upper(value: Any) -> str:
    """`upper`: the text in upper case."""
    return as_text(value).upper()


def lower(value: Any) -> str:
    """`lower`: the text in lower case."""
    return as_text(value).lower()


def slug(value: Any, max_length: int = 63) -> str:
    """`slug(max_length=63)`: lower-case letters, digits and single hyphens, accents
    dropped (`Crème Brûlée!` → `creme-brulee`), cut to `max_length` characters."""
    limit = _int_arg("max_length", max_length, 1)
    text = unicodedata.normalize("NFKD", as_text(value)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text[:limit].rstrip("-")


def trim(value: Any, chars: str | None = None) -> str:
    """`trim(chars=None)`: the text without leading and trailing whitespace (or the
    characters given: `trim('/')`)."""
    strip = None if chars is None else _text_arg("chars", chars)
    return as_text(value).strip(strip)


def truncate(value: Any, length: int, end: str = "") -> str:
    """`truncate(length, end='')`: the text cut to at most `length` characters; when
    it is cut, `end` (e.g. `'…'`) replaces its last characters."""
    size = _int_arg("length", length, 0)
    suffix = _text_arg("end", end)
    text = as_text(value)
    if len(text) <= size:
        return text
    if len(suffix) >= size:
        return suffix[:size]
    return text[: size - len(suffix)] + suffix


def replace(value: Any, old: str, new: str, count: int = -1) -> str:
    """`replace(old, new, count=-1)`: the text with `old` replaced by `new` (at most
    `count` times when count is 0 or more)."""
    before, after = _text_arg("old", old), _text_arg("new", new)
    limit = _int_arg("count", count, -1)
    text = as_text(value)
    found = text.count(before) if before else len(text) + 1
    times = found if limit < 0 else min(found, limit)
    check_length(len(text) + times * (len(after) - len(before)))
    return text.replace(before, after, limit)


def json_(value: Any, indent: int | None = None) -> str:
    """`json(indent=None)`: the value as JSON (text is quoted and escaped; objects and
    lists keep their structure); `indent` (0 to 8) spreads it over lines."""
    spaces = None if indent is None else _int_arg("indent", indent, 0, 8)
    check_length(estimate_size(value, OUTPUT_LIMIT.get()))
    return json.dumps(to_plain(value), ensure_ascii=False, indent=spaces)


def yaml_(value: Any) -> str:
    """`yaml`: the value as a YAML document (block style, keys in their order)."""
    check_length(estimate_size(value, OUTPUT_LIMIT.get()))
    text = yaml.safe_dump(
        to_plain(value), default_flow_style=False, sort_keys=False, allow_unicode=True
    )
    return text.removesuffix("\n").removesuffix("\n...")


def join(value: Any, separator: str = ", ") -> str:
    """`join(separator=', ')`: the items of a list as text, separated (a text value
    stays as it is)."""
    sep = _text_arg("separator", separator)
    if isinstance(value, str | Undefined) or value is None:
        return as_text(value)
    if not isinstance(value, list | tuple):
        raise PipeError("join needs a list")
    parts: list[str] = []
    size = 0
    for item in value:
        parts.append(as_text(item))
        size += len(parts[-1]) + len(sep)
        check_length(size)
    return sep.join(parts)


def b64encode(value: Any) -> str:
    """`b64encode`: the text's UTF-8 bytes in Base64."""
    data = as_text(value).encode()
    check_length((len(data) + 2) // 3 * 4)
    return base64.b64encode(data).decode("ascii")


def date_(value: Any, format: str = "%Y-%m-%d") -> str:
    """`date(format='%Y-%m-%d')`: a date, a date-time, ISO 8601 text or a Unix timestamp
    written with a `strftime` format (`'%d %b %Y'`), or `'iso'` for ISO 8601."""
    pattern = _text_arg("format", format)
    if pattern != "iso" and not _STRFTIME.fullmatch(pattern):
        raise PipeError("'format' may only use %-directives such as %Y, %m, %d, %H, %M")
    if isinstance(value, Undefined) or value is None:
        return as_text(value)
    moment = _moment(value)
    return moment.isoformat() if pattern == "iso" else moment.strftime(pattern)


def _moment(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise PipeError("the timestamp is out of range") from None
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                continue
    raise PipeError("the value is not a date, ISO 8601 text or a timestamp")


#: Every pipe, by the name templates use.
PIPES: Mapping[str, Callable[..., Any]] = {
    "default": default,
    "upper": upper,
    "lower": lower,
    "slug": slug,
    "trim": trim,
    "truncate": truncate,
    "replace": replace,
    "json": json_,
    "yaml": yaml_,
    "join": join,
    "b64encode": b64encode,
    "date": date_,
}
