"""Rendering a template, or a whole action config, against sample values: the
catalog author's test bench behind `POST /api/v1/tools/test-variables` and
`loom catalog test-variables`. It renders exactly as a worker would (same engine, same
sandbox, same missing-value warnings) and stores nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from loom.errors import InvalidInput
from loom.provisioning.templating import (
    RenderResult,
    TemplateError,
    Variables,
    render,
    render_config,
)


def render_sample(
    *,
    template: str | None,
    config: Mapping[str, Any] | None,
    variables: Mapping[str, Any],
    fmt: Literal["text", "json"] = "text",
) -> RenderResult:
    """Render `template` or every string of `config` (exactly one of them) with
    `variables` given by namespace (`{"current": {...}, "output": {...}}`).

    Raises InvalidInput naming `template`, `config` or `variables` when the input is
    not something a worker could render."""
    if (template is None) == (config is None):
        raise InvalidInput.on("template", "give exactly one of template or config")
    try:
        values = Variables.from_mapping(variables)
    except ValueError as exc:
        raise InvalidInput.on("variables", str(exc)) from None
    try:
        if template is not None:
            return render(template, values, fmt=fmt)
        return render_config(dict(config or {}), values)
    except TemplateError as exc:
        field = "template" if template is not None else "config"
        raise InvalidInput.on(field, exc.message) from None
