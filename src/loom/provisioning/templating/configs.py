"""Rendering a whole action config: every string rendered (a lone expression keeps its
value's JSON type), within one size and time budget, then fitted to the action's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from loom.provisioning.templating.errors import ParseError, RenderError, located
from loom.provisioning.templating.limits import DEFAULT_LIMITS, Limits
from loom.provisioning.templating.namespaces import Variables
from loom.provisioning.templating.parsing import parse
from loom.provisioning.templating.pipes import as_text
from loom.provisioning.templating.rendering import RenderResult, evaluate
from loom.provisioning.templating.resolution import resolve
from loom.provisioning.templating.sandbox import in_range
from loom.provisioning.templating.state import RenderState, render_state, value_size
from loom.provisioning.templating.template import Key, has_tags


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
    with render_state(limits, strict) as state:
        value = _render_value(config, "", variables, state)
    if model is not None:
        value = fit_strings(model, value)
    return RenderResult(value, tuple(state.warnings))


def _render_value(value: Any, where: str, variables: Variables, state: RenderState) -> Any:
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
        raise RenderError(f"{where}: {located(exc, value)}") from None
    try:
        rendered = evaluate(resolve(template, variables), "text", True, state)
    except RenderError as exc:
        raise RenderError(f"{where}: {exc.message}") from None
    state.config_chars += value_size(rendered, state.limits.max_config_chars)
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
    if in_dict or (isinstance(value, list) and in_range(value, last)):
        value[last] = new
