"""Printing for every command: rich tables for people, `--output json` for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


#: The `-o/--output` option every command that prints data takes.
OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table for people, json for scripts", show_default=True),
]


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def info(message: str) -> None:
    """A line for people (stdout); commands print it in table mode only."""
    console.print(escape(message), soft_wrap=True)


def cell(value: Any) -> str:
    """One table cell: lists joined, mappings as compact JSON, None as blank."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


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
        table.add_row(*[escape(cell(row.get(c))) for c in cols])
    console.print(table)
