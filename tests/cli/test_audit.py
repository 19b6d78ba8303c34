"""`loom audit list` and `loom audit verify` against the live server."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy.engine import make_url

from tests.cli.conftest import LoggedIn, run

pytestmark = pytest.mark.sqlite_only


def test_verify_reports_an_intact_chain(logged_in: LoggedIn) -> None:
    assert "audit chain ok" in run("audit", "verify").stdout
    data = json.loads(run("audit", "verify", "-o", "json").stdout)
    assert data["ok"] is True
    assert data["checked"] >= 1
    assert data["problems"] == []


def test_verify_exits_1_when_an_entry_was_edited(logged_in: LoggedIn, database_url: str) -> None:
    path = make_url(database_url).database
    assert path
    with sqlite3.connect(path) as db:
        db.execute("UPDATE audit_entries SET action = 'tampered' WHERE seq = 1")
    result = run("audit", "verify", code=1)
    assert "audit chain BROKEN" in result.stdout
    assert "edited" in result.stdout
    data = json.loads(run("audit", "verify", "-o", "json", code=1).stdout)
    assert data["ok"] is False
    assert [p["seq"] for p in data["problems"]] == [1]


def test_list_filters_and_pages(logged_in: LoggedIn) -> None:
    for name in ("a", "b", "c"):
        run("token", "create", name, "-o", "json")
    page = json.loads(run("audit", "list", "--action", "token.create", "-o", "json").stdout)
    assert {e["action"] for e in page["items"]} == {"token.create"}
    assert len(page["items"]) >= 4  # the CLI's own login token and these three
    assert page["next_cursor"] is None

    first = json.loads(
        run("audit", "list", "--action", "token.create", "--limit", "2", "-o", "json").stdout
    )
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = json.loads(
        run(
            "audit", "list", "--action", "token.create", "--limit", "2",
            "--cursor", first["next_cursor"], "-o", "json",
        ).stdout
    )  # fmt: skip
    seqs = [e["seq"] for e in first["items"] + rest["items"]]
    assert seqs == [e["seq"] for e in page["items"]][: len(seqs)]

    walked = json.loads(
        run(
            "audit", "list", "--action", "token.create", "--limit", "1", "--all", "-o", "json"
        ).stdout
    )
    assert [e["seq"] for e in walked["items"]] == [e["seq"] for e in page["items"]]


def test_list_table_names_actions_and_hints_the_next_page(logged_in: LoggedIn) -> None:
    run("token", "create", "x")
    result = run("audit", "list", "--limit", "1")
    assert "token.create" in result.stdout
    assert "more entries: --cursor " in result.stdout


def test_list_by_correlation_id_of_a_cli_request(logged_in: LoggedIn) -> None:
    entries = json.loads(run("audit", "list", "--action", "token.create", "-o", "json").stdout)
    cid = entries["items"][0]["correlation_id"]
    assert cid
    again = json.loads(run("audit", "list", "--correlation-id", cid, "-o", "json").stdout)
    assert [e["id"] for e in again["items"]] == [entries["items"][0]["id"]]


def test_a_bad_filter_is_named_without_a_request(logged_in: LoggedIn) -> None:
    result = run("audit", "list", "--since", "yesterday", code=1)
    assert "--since" in result.stderr
    result = run("audit", "list", "--team-id", "nope", code=1)
    assert "--team-id" in result.stderr
