"""Values written as HCL expressions, the way Terraform Cloud takes run-specific
variables (and workspace variables marked `hcl`): `"db-1"` for a string, `3`, `true`,
`["a", "b"]`, `{ "env" = "prod" }`.

Strings are escaped for HCL, not JSON: HCL has no `\\b` or `\\f` escapes, and it reads
`${` and `%{` inside a quoted string as template sequences, so a value containing them
is written `$${` / `%%{` and reaches Terraform literally instead of being interpolated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def encode(value: Any) -> str:
    """`value` (JSON data: text, numbers, booleans, null, lists, objects) as one HCL
    expression. ValueError for anything else (NaN, infinity, other types)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no HCL form")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{quote(str(key))} = {encode(item)}" for key, item in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(encode(item) for item in value) + "]"
    raise ValueError(f"a {type(value).__name__} has no HCL form")


def quote(text: str) -> str:
    """`text` as a quoted HCL string literal."""
    out = []
    for i, char in enumerate(text):
        following = text[i + 1 : i + 2]
        if char in "$%" and following == "{":
            out.append(char + char)  # `$${` is a literal `${`
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
