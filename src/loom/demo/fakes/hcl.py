"""HCL literal expressions read the way Terraform reads a run-specific variable's
value, for the Terraform fake: strings (with HCL's escapes, `$${`/`%%{` for a literal
`${`/`%{`), numbers, `true`/`false`/`null`, tuples and objects (`=` or `:`). An
unescaped template sequence in a string is refused, as Terraform would try to
interpolate it.

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

import re
from typing import Any

_HCL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def decode_hcl(text: str) -> Any:
    """The value of an HCL literal expression (strings, numbers, bools, null, tuples,
    objects). ValueError for anything else, including an unescaped `${`/`%{` template
    sequence in a string, which Terraform would try to interpolate."""
    value, end = _hcl(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise ValueError(f"unexpected {text[end:]!r} after the value")
    return value


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _hcl(text: str, i: int) -> tuple[Any, int]:
    if text.startswith('"', i):
        return _hcl_string(text, i + 1)
    if text.startswith("[", i):
        items, i = [], _skip(text, i + 1)
        while not text.startswith("]", i):
            item, i = _hcl(text, i)
            items.append(item)
            i = _skip(text, i)
            if text.startswith(",", i):
                i = _skip(text, i + 1)
            elif not text.startswith("]", i):
                raise ValueError(f"expected , or ] at {i} in {text!r}")
        return items, i + 1
    if text.startswith("{", i):
        obj, i = {}, _skip(text, i + 1)
        while not text.startswith("}", i):
            key, i = _hcl(text, i)
            i = _skip(text, i)
            if text[i : i + 1] not in ("=", ":"):
                raise ValueError(f"expected = after an object key in {text!r}")
            obj[key], i = _hcl(text, _skip(text, i + 1))
            i = _skip(text, i)
            if text.startswith(",", i):
                i = _skip(text, i + 1)
        return obj, i + 1
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, i):
            return value, i + len(word)
    match = _NUMBER.match(text, i)
    if match:
        number = match.group()
        return (float(number) if match.group(1) or match.group(2) else int(number)), match.end()
    raise ValueError(f"not an HCL literal at {i} in {text!r}")


def _hcl_string(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), i + 1
        if char == "\\":
            code = text[i + 1 : i + 2]
            if code == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if code not in _HCL_ESCAPES:
                raise ValueError(f"invalid escape \\{code} in {text!r}")
            out.append(_HCL_ESCAPES[code])
            i += 2
            continue
        if char in "$%" and text.startswith(char + char + "{", i):
            out.append(char + "{")
            i += 3
            continue
        if char in "$%" and text.startswith(char + "{", i):
            raise ValueError(f"template sequence {char}{{ in {text!r}")
        if char == "\n":
            raise ValueError(f"a line break in a quoted string in {text!r}")
        out.append(char)
        i += 1
    raise ValueError(f"unterminated string in {text!r}")
