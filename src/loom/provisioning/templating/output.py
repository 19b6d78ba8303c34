"""How the value of a `{{ expression }}` is written into the rendered text: as text,
or (for a JSON document) as a JSON value or an escaped piece of a JSON string."""

from __future__ import annotations

import json
from typing import Any, Literal

from jinja2 import pass_context
from jinja2.runtime import Context

from loom.provisioning.templating.pipes import as_text, to_plain
from loom.provisioning.templating.state import current_state
from loom.provisioning.templating.values import Pending

Format = Literal["text", "json"]


@pass_context
def output_text(_context: Context, value: Any) -> str:
    state = current_state()
    state.tick()
    state.check_size(value)
    return as_text(value)


@pass_context
def output_json_value(_context: Context, value: Any) -> str:
    """An expression written where a JSON value goes: the value as JSON."""
    state = current_state()
    state.check_size(value)
    if isinstance(value, Pending):
        return json.dumps(str(value), ensure_ascii=False)
    return json.dumps(to_plain(value), ensure_ascii=False)


@pass_context
def output_json_string(_context: Context, value: Any) -> str:
    """An expression written inside a JSON string: its text, escaped for JSON."""
    return json.dumps(output_text(_context, value), ensure_ascii=False)[1:-1]
