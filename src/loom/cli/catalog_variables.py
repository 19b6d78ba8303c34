"""`loom catalog test-variables`: render a template or an action config against sample
values, offline, exactly as a worker would (the same engine and sandbox as
`POST /api/v1/tools/test-variables`), so catalog authors can try a template before they
push it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from loom.cli.form_values import read_values
from loom.cli.output import OutputFormat, OutputOption, console, emit, fail, warn


def test_variables(
    template: Annotated[
        str | None,
        typer.Argument(help="A template, e.g. 'db-{{ .current.name | slug }}'"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="A YAML or JSON file holding a whole action config; every string is rendered",
        ),
    ] = None,
    variables_file: Annotated[
        Path | None,
        typer.Option(
            "--vars",
            "-f",
            help="A YAML or JSON file of sample values by namespace: "
            "{current: {...}, output: {...}, metadata: {...}, system: {...}}",
        ),
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="NAMESPACE.PATH=VALUE",
            help="One sample value, e.g. current.db.name=orders or output.ticketKey=OPS-1 "
            "(wins over --vars)",
        ),
    ] = None,
    json_body: Annotated[
        bool,
        typer.Option(
            "--json-body",
            help="The template is a JSON document (a request body): values inside JSON "
            "strings are escaped, values in place of a JSON value are serialised as JSON",
        ),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Render a template (or an action config with --config) against sample values; exit 1
    when the template is refused. Missing values render empty and are listed as warnings."""
    from loom.catalog.sample_render import render_sample
    from loom.errors import InvalidInput

    variables = (
        read_values(variables_file, option="--vars", holds="a mapping of namespaces")
        if variables_file
        else {}
    )
    for assignment in values or []:
        _assign(variables, assignment)
    action_config = (
        read_values(config, option="--config", holds="a mapping (an action config)")
        if config
        else None
    )
    try:
        result = render_sample(
            template=template,
            config=action_config,
            variables=variables,
            fmt="json" if json_body else "text",
        )
    except InvalidInput as exc:
        fail(exc.message)
    if output is OutputFormat.json:
        emit({"rendered": result.value, "warnings": list(result.warnings)}, output)
        return
    if isinstance(result.value, str):
        console.print(result.value, markup=False, highlight=False, soft_wrap=True)
    else:
        import yaml

        console.print(
            yaml.safe_dump(result.value, sort_keys=False, allow_unicode=True).rstrip(),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for warning in result.warnings:
        warn(warning)


def _assign(variables: dict[str, Any], assignment: str) -> None:
    """Apply one `--set namespace.path=value`, creating nested mappings on the way."""
    key, sep, value = assignment.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts):
        fail(f"--set {assignment!r}: expected NAMESPACE.PATH=VALUE, e.g. current.name=orders")
    target = variables
    for depth, part in enumerate(parts[:-1]):
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            fail(f"--set {assignment!r}: {'.'.join(parts[: depth + 1])} already holds a value")
        target = child
    target[parts[-1]] = value
