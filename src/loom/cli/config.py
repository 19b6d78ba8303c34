"""`loom config show` and `loom config validate`: the local settings, read as `loom serve`
would read them (LOOM_* variables, then the TOML file named by LOOM_CONFIG or ./loom.toml)."""

from __future__ import annotations

import json
from typing import Any

import typer

from loom.cli.output import OutputFormat, OutputOption, emit, fail, info
from loom.settings import SettingsError, load_settings, masked_dump

config_app = typer.Typer(
    help="The local settings (LOOM_* variables and loom.toml).", no_args_is_help=True
)


def flatten(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Nested settings as rows of (setting, value, the variable that sets it)."""
    rows: list[dict[str, str]] = []
    for name, value in data.items():
        path = (*prefix, name)
        if isinstance(value, dict):
            rows.extend(flatten(value, path))
            continue
        rendered = value if isinstance(value, str) else json.dumps(value)
        rows.append(
            {
                "setting": ".".join(path),
                "value": rendered,
                "variable": "LOOM_" + "__".join(path).upper(),
            }
        )
    return rows


@config_app.command("show")
def show(output: OutputOption = OutputFormat.table) -> None:
    """Print the effective settings, secrets masked."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    data = masked_dump(settings)
    if output is OutputFormat.json:
        emit(data, output)
    else:
        emit(flatten(data), output, ["setting", "value", "variable"])


@config_app.command("validate")
def validate(output: OutputOption = OutputFormat.table) -> None:
    """Check the settings; exit 1 naming every bad setting."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        if output is OutputFormat.json:
            emit({"valid": False, "error": str(exc)}, output)
            raise typer.Exit(1) from None
        fail(str(exc))
    if output is OutputFormat.json:
        emit({"valid": True, "env": settings.env}, output)
    else:
        info(f"valid (env={settings.env})")
