"""Printing for every command: rich tables for people, `--output json` for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def emit(
    data: Any, fmt: OutputFormat, columns: Sequence[str] | None = None, title: str | None = None
) -> None:
    """Print `data` (a dict or a list of dicts) as JSON or as a table of `columns`."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    cols = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if row.get(c) is None else str(row.get(c)) for c in cols])
    console.print(table)
