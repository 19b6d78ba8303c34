"""Printing helpers: nothing is cut, markup in data is shown as typed, JSON stays JSON."""

from __future__ import annotations

import json

import pytest
import typer

from loom.cli.output import OutputFormat, cell, emit, emit_record, fail


def test_cells_join_lists_and_shorten_utc_timestamps() -> None:
    assert cell(["read", "write"]) == "read, write"
    assert cell(None) == ""
    assert cell({"a": 1}) == '{"a":1}'
    assert cell("2026-11-26T12:59:50.123456Z") == "2026-11-26 12:59:50Z"
    assert cell("2026-11-26T12:59:50+00:00") == "2026-11-26 12:59:50Z"
    assert cell("2026-11-26T12:59:50+02:00") == "2026-11-26T12:59:50+02:00"


def test_narrow_tables_fold_ids_instead_of_cutting_them(capsys: pytest.CaptureFixture[str]) -> None:
    token_id = "d1742139-e03e-4b1e-aaa0-134b93071395"
    rows = [{"id": token_id, "name": "n" * 30, "scopes": ["read"], "note": "x" * 60}]
    emit(rows, OutputFormat.table, ["id", "name", "scopes", "note"])
    out = capsys.readouterr().out
    assert "…" not in out
    first_column = [line.split("│")[1].strip() for line in out.splitlines() if "│" in line]
    assert "".join(first_column) == token_id


def test_markup_in_data_is_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    emit_record({"name": "[red]not markup[/red]"}, OutputFormat.table)
    assert "[red]not markup[/red]" in capsys.readouterr().out
    with pytest.raises(typer.Exit) as exited:
        fail("scopes: [read] is [bold]odd[/bold]")
    assert exited.value.exit_code == 1
    assert "error: scopes: [read] is [bold]odd[/bold]" in capsys.readouterr().err


def test_json_output_is_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    emit_record({"id": 1, "scopes": ["read"]}, OutputFormat.json)
    assert json.loads(capsys.readouterr().out) == {"id": 1, "scopes": ["read"]}
