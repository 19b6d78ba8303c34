"""Printing for every command: rich tables for people, `--output json` for scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
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


_ISO_MOMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:00)$")


def cell(value: Any) -> str:
    """One table cell: lists joined, mappings as compact JSON, None as blank, UTC
    timestamps to the second."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, separators=(",", ":"))
    text = str(value)
    moment = _ISO_MOMENT.match(text)
    return f"{moment[1]} {moment[2]}Z" if moment else text


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
        table.add_column(col, overflow="fold")  # narrow terminals wrap ids, never cut them
    for row in rows:
        table.add_row(*[escape(cell(row.get(c))) for c in cols])
    console.print(table)


def emit_record(
    data: Mapping[str, Any], fmt: OutputFormat, fields: Sequence[str] | None = None
) -> None:
    """Print one object: JSON, or a two-column table of `fields` and their values."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in fields or list(data):
        table.add_row(name, escape(cell(data.get(name))))
    console.print(table)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def readable(value: Any) -> str:
    """A value as a person reads it in a table: text as is, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value)
