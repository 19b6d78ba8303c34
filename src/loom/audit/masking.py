"""Masking of secret values before they reach audit entries, logs or API output."""

from __future__ import annotations

import re
from typing import Any

MASK = "••••"
_SECRET_KEY = re.compile(
    r"(pass(word|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential)", re.I
)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def mask_secrets(value: Any) -> Any:
    """A copy of `value` with every value under a secret-looking key replaced by the mask."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_key(str(k)) and v not in (None, "") else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value
