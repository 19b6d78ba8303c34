"""The state of one rendering: its limits and deadline, the config path being
rendered, and the warnings collected so far (held in a context variable so the
sandbox's operators, pipes and missing values can reach it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from loom.provisioning.templating import pipes
from loom.provisioning.templating.errors import RenderError
from loom.provisioning.templating.limits import Limits
from loom.provisioning.templating.pipes import estimate_size


@dataclass
class RenderState:
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
        if value_size(value, limit) > limit:
            raise RenderError(f"a value would be longer than {limit} characters")


def value_size(value: Any, limit: int) -> int:
    """Characters of text, or about as many as the value takes as JSON."""
    return len(value) if isinstance(value, str) else estimate_size(value, limit)


STATE: ContextVar[RenderState | None] = ContextVar("template_render_state", default=None)


def current_state() -> RenderState:
    state = STATE.get()
    if state is None:  # only reachable by calling the sandbox outside a rendering
        raise RenderError("templates render through transform()")
    return state


@contextmanager
def render_state(limits: Limits, strict: bool) -> Iterator[RenderState]:
    state = RenderState(limits, strict, monotonic() + limits.max_seconds)
    token = STATE.set(state)
    limit_token = pipes.OUTPUT_LIMIT.set(limits.max_output_chars)
    try:
        yield state
    finally:
        pipes.OUTPUT_LIMIT.reset(limit_token)
        STATE.reset(token)
