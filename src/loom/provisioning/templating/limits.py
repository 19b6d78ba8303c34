"""Bounds on what a template may be and do: its nesting, its size, its run time."""

from __future__ import annotations

from dataclasses import dataclass

#: Brackets a template may nest, and how deep its syntax tree may go.
MAX_NESTING = 20
MAX_DEPTH = 64
#: Largest whole number arithmetic may produce (bits).
MAX_INT_BITS = 4096


@dataclass(frozen=True)
class Limits:
    """Bounds on one rendering (the defaults suit every built-in action)."""

    max_template_chars: int = 64 * 1024
    max_output_chars: int = 64 * 1024  # per template, and per value built inside one
    max_config_chars: int = 1024 * 1024  # per config
    max_seconds: float = 1.0  # per template, or per config


DEFAULT_LIMITS = Limits()
