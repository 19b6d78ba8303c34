"""Phase 4, `transform(resolved)` → `RenderResult`: pipes applied and the text (or, for
a lone expression, the object) produced; and `render`, all four phases for one string."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from loom.provisioning.templating.errors import RenderError, TemplateError
from loom.provisioning.templating.limits import DEFAULT_LIMITS, Limits
from loom.provisioning.templating.namespaces import Variables
from loom.provisioning.templating.output import Format, output_text
from loom.provisioning.templating.parsing import parse
from loom.provisioning.templating.pipes import to_plain
from loom.provisioning.templating.resolution import Resolved, resolve
from loom.provisioning.templating.sandbox import environment
from loom.provisioning.templating.state import RenderState, render_state
from loom.provisioning.templating.template import Template


@dataclass(frozen=True)
class RenderResult:
    """A rendered template or config, and the warnings (missing values, pipe problems)."""

    value: Any
    warnings: tuple[str, ...] = ()


def transform(
    resolved: Resolved,
    *,
    fmt: Format = "text",
    keep_objects: bool = False,
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Render: pipes applied, values formatted for `fmt` (`text`, or `json` for a JSON
    document whose expressions are JSON-escaped). With `keep_objects`, a template that
    is one expression gives its value as JSON data (an object, a list, a number, a
    boolean, null) unless it is text. Missing values give empty text and a warning
    (with `strict`, a RenderError)."""
    with render_state(limits, strict) as state:
        value = evaluate(resolved, fmt, keep_objects, state)
    return RenderResult(value, tuple(state.warnings))


def evaluate(resolved: Resolved, fmt: Format, keep_objects: bool, state: RenderState) -> Any:
    template = resolved.template
    if template.plain:
        return template.source
    context = {template._names[ref]: value for ref, value in resolved.values.items()}
    try:
        if keep_objects and template.single:
            program = _program(template, "value")
            ctx = program.new_context(context)
            for _chunk in program.root_render_func(ctx):
                pass
            value = ctx.vars["_result"]
            if isinstance(value, Mapping | list | tuple):
                state.check_size(value)
                return to_plain(value)
            if value is None or isinstance(value, bool | int | float):
                return value  # keeps its JSON type: `"{{ .current.replicas }}"` is 3
            return output_text(ctx, value)
        program = _program(template, fmt)
        chunks: list[str] = []
        size = 0
        for chunk in program.root_render_func(program.new_context(context)):
            size += len(chunk)
            if size > state.limits.max_output_chars:
                raise RenderError(
                    f"the text is longer than {state.limits.max_output_chars} characters"
                )
            state.tick()
            chunks.append(chunk)
        return "".join(chunks)
    except TemplateError:
        raise
    except Exception as exc:  # anything the template itself did wrong (1 / 0, 'a' < 1)
        raise RenderError(f"cannot render: {exc}") from None


def _program(template: Template, kind: str) -> Any:
    """The compiled template (`text`, `json`) or lone expression (`value`), cached."""
    program = template._programs.get(kind)
    if program is None:
        assert template._tree is not None
        env = environment("json" if kind == "json" else "text")
        tree = template._tree
        if kind == "value":
            assert template._expression is not None
            target = nodes.Name("_result", "store", lineno=1)
            tree = nodes.Template([nodes.Assign(target, template._expression, lineno=1)], lineno=1)
            tree.set_environment(env)
        program = env.template_class.from_code(env, env.compile(tree), env.make_globals(None))
        template._programs[kind] = program
    return program


def render(
    source: str,
    variables: Variables,
    *,
    fmt: Format = "text",
    strict: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """All four phases for one template string (the text it renders to)."""
    return transform(
        resolve(parse(source, limits), variables), fmt=fmt, strict=strict, limits=limits
    )
