"""`loom incident list|show|ack|resolve|merge|timeline|comment` against a live server
holding incidents made with the ORM (through an engine of the test's own)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from loom.auth.models import User
from loom.cli.output import console
from loom.db.engine import create_engine, create_sessionmaker
from loom.incidents.kinds import IncidentStatus, Severity
from tests.cli.conftest import LoggedIn, run
from tests.conftest import ADMIN_EMAIL, LiveServer
from tests.incidents.factories import make_incident

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)  # no cell is folded


def seed(server: LiveServer, *specs: dict[str, Any]) -> list[int]:
    """Make incidents in the live server's database; their numbers."""

    async def make() -> list[int]:
        engine = create_engine(server.app.state.runtime.settings)
        try:
            async with create_sessionmaker(engine)() as s, s.begin():
                org_id: uuid.UUID | None = await s.scalar(
                    select(User.org_id).where(User.email == ADMIN_EMAIL)
                )
                assert org_id is not None
                return [(await make_incident(s, org_id, **spec)).number for spec in specs]
        finally:
            await engine.dispose()

    return asyncio.run(make())


@pytest.fixture
def incidents(logged_in: LoggedIn, live_server: LiveServer) -> list[int]:
    return seed(
        live_server,
        {"alerts": 2, "severities": [Severity.CRITICAL], "title": "Database down"},
        {"alerts": 1, "status": IncidentStatus.RESOLVED, "title": "Old one"},
        {"alerts": 3, "title": "Checkout errors"},
    )


def _numbers(*args: str) -> list[int]:
    listed = json.loads(run("incident", "list", *args, "-o", "json").stdout)
    return [i["number"] for i in listed["items"]]


def test_list_filters(incidents: list[int]) -> None:
    db, old, checkout = incidents
    assert sorted(_numbers()) == sorted(incidents)
    assert sorted(_numbers("--open")) == [db, checkout]
    assert _numbers("--status", "resolved") == [old]
    assert _numbers("--severity", "critical") == [db]
    table = run("incident", "list").stdout
    assert f"INC-{db}" in table and "Database down" in table and "2/2 firing" in table


def test_show_ack_resolve_and_timeline(incidents: list[int]) -> None:
    db = incidents[0]
    shown = run("incident", "show", f"INC-{db}").stdout
    assert "Database down" in shown and "triggered" in shown and "Alert0" in shown
    assert "INC-" in run("incident", "ack", str(db), "--note", "on it").stdout
    data = json.loads(run("incident", "show", str(db), "-o", "json").stdout)
    assert data["status"] == "acknowledged" and data["mtta_seconds"] is not None
    run("incident", "comment", str(db), "the primary is out of disk")
    resolved = json.loads(run("incident", "resolve", f"INC-{db}", "-o", "json").stdout)
    assert resolved["status"] == "resolved"
    events = json.loads(run("incident", "timeline", str(db), "-o", "json").stdout)
    assert [e["kind"] for e in events] == ["acknowledged", "comment", "resolved"]
    assert events[0]["summary"] == "Acknowledged: on it"
    table = run("incident", "timeline", str(db)).stdout
    assert "the primary is out of disk" in table and ADMIN_EMAIL in table


def test_errors_are_one_line(incidents: list[int]) -> None:
    old = incidents[1]
    refused = run("incident", "ack", str(old), code=1)
    assert "ILLEGAL_TRANSITION" in refused.stderr or "cannot become" in refused.stderr
    missing = run("incident", "show", "INC-999", code=1)
    assert "not found" in missing.stderr


def test_merge(incidents: list[int]) -> None:
    db, _old, checkout = incidents
    out = run("incident", "merge", str(checkout), "--into", f"INC-{db}").stdout
    assert f"INC-{db}" in out and "5 alerts" in out
    merged = json.loads(run("incident", "show", str(checkout), "-o", "json").stdout)
    assert merged["status"] == "resolved" and merged["merged_into"] == db
