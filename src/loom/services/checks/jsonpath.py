"""A tiny JSON path lookup for health checks: `$.status`, `$.checks[0].ok`, or the
dotted form `checks.0.ok`. Keys and list indexes only: no wildcards, filters or slices
(what a health endpoint's answer needs, and nothing that can be slow)."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


class PathError(ValueError):
    """The path is not of the supported form."""


class Missing(LookupError):
    """The document has nothing at the path."""


def parse(path: str) -> list[str | int]:
    """The steps of `path`: keys (str) and list indexes (int)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None or match.end() == pos:
            raise PathError(f"cannot read the path at {text[pos:]!r}")
        key, index, quoted = match.groups()
        if index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(quoted)
        else:
            steps.append(int(key) if key.isdigit() else key)
        pos = match.end()
    return steps


def lookup(document: Any, path: str) -> Any:
    """The value at `path` in `document`; Missing if there is none."""
    value = document
    for step in parse(path):
        if isinstance(step, int) and isinstance(value, list):
            if step >= len(value):
                raise Missing(f"no item {step}")
            value = value[step]
        elif isinstance(value, dict) and str(step) in value:
            value = value[str(step)]
        else:
            raise Missing(f"no {step!r}")
    return value
