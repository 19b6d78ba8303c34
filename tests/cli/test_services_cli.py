"""`loom service list|show|graph` against a live server holding a small registry, and
how API errors and bad options end (one line on stderr, exit 1)."""

from __future__ import annotations

import json

import pytest

from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 200)  # no cell is folded


@pytest.fixture
def registry(logged_in: LoggedIn) -> LoggedIn:
    """platform: api → auth → billing → api (a loop), api → postgres:api-db;
    payments: ledger → api, and payouts (deprecated, alone)."""
    with LoomClient(logged_in.url, mint_token(logged_in.url)) as client:
        client.identity.create_team("payments", "Payments")
        services = client.services
        services.create("api", "API", "platform", tier=1, lifecycle="production",
                        tags=["edge"], description="The public gateway")  # fmt: skip
        services.create("auth", "Auth", "platform", tier=1, tags=["security"])
        services.create("billing", "Billing", "platform", tier=2)
        services.create("ledger", "Ledger", "payments", tier=1, lifecycle="production")
        services.create("payouts", "Payouts", "payments", tier=3, lifecycle="deprecated")
        services.add_dependency("api", target="auth", criticality="high")
        services.add_dependency("api", target_resource="postgres:api-db", kind="data")
        services.add_dependency("auth", target="billing")
        services.add_dependency("billing", target="api", kind="async")
        services.add_dependency("ledger", target="api")
    return logged_in


def _slugs(*args: str) -> list[str]:
    listed = json.loads(run("service", "list", *args, "-o", "json").stdout)
    return [s["slug"] for s in listed["items"]]


def test_list_filters_and_pages(registry: LoggedIn) -> None:
    assert _slugs() == ["api", "auth", "billing", "ledger", "payouts"]
    assert _slugs("--team", "payments") == ["ledger", "payouts"]
    assert _slugs("--tier", "1") == ["api", "auth", "ledger"]
    assert _slugs("--lifecycle", "deprecated") == ["payouts"]
    assert _slugs("--tag", "security") == ["auth"]
    assert _slugs("-q", "gateway") == ["api"]

    first = json.loads(run("service", "list", "--limit", "2", "-o", "json").stdout)
    assert [s["slug"] for s in first["items"]] == ["api", "auth"]
    assert _slugs("--limit", "2", "--cursor", first["next_cursor"]) == ["billing", "ledger"]
    assert _slugs("--limit", "2", "--all") == ["api", "auth", "billing", "ledger", "payouts"]

    shown = run("service", "list", "--limit", "2").stdout
    assert "api" in shown and "billing" not in shown
    assert f"more services: --cursor {first['next_cursor']}" in shown
    table = run("service", "list", "--lifecycle", "production").stdout
    assert "Ledger" in table and "production" in table and "Auth" not in table


def test_show_prints_both_directions(registry: LoggedIn) -> None:
    shown = run("service", "show", "api").stdout
    assert "The public gateway" in shown
    calls, _, callers = shown.partition("what calls it")
    assert "auth" in calls and "postgres:api-db" in calls and "ledger" not in calls
    assert "ledger" in callers and "billing" in callers and "postgres" not in callers

    data = json.loads(run("service", "show", "api", "-o", "json").stdout)
    assert data["slug"] == "api" and data["tier"] == 1
    assert {d["target"] or d["target_resource"] for d in data["dependencies"]} == {
        "auth",
        "postgres:api-db",
    }
    assert sorted(d["service"] for d in data["dependents"]) == ["billing", "ledger"]


def test_graph_tree_marks_the_loop(registry: LoggedIn) -> None:
    out = run("service", "graph", "api", "--depth", "3", "--direction", "down").stdout
    lines = [line.strip("│├└─ ") for line in out.splitlines()]
    assert lines[0].startswith("api")
    assert any(line.startswith("auth") for line in lines)
    assert any(line.startswith("billing") for line in lines)
    assert any(line.startswith("↻ api") and "cycle" in line for line in lines)
    assert any(line.startswith("postgres:api-db") for line in lines)
    assert "ledger" not in out  # it calls api: up, not down
    (cycle,) = [line for line in out.splitlines() if line.startswith("cycle: ")]
    assert set(cycle.removeprefix("cycle: ").split(" → ")) == {"api", "auth", "billing"}

    shallow = run("service", "graph", "api", "--depth", "1", "--direction", "up").stdout
    assert "ledger" in shallow and "billing" in shallow and "auth" not in shallow
    both = run("service", "graph", "api", "--depth", "1").stdout
    assert "calls" in both and "called by" in both and "ledger" in both and "auth" in both

    data = json.loads(run("service", "graph", "auth", "-d", "1", "-o", "json").stdout)
    assert {n["slug"]: n["distance"] for n in data["nodes"]} == {"auth": 0, "api": 1, "billing": 1}
    system = json.loads(run("service", "graph", "-o", "json").stdout)
    assert len(system["nodes"]) == 5 and len(system["edges"]) == 5
    assert "ledger" in run("service", "graph").stdout


def test_api_errors_are_one_line_and_exit_1(registry: LoggedIn) -> None:
    missing = run("service", "show", "nope", code=1)
    assert "error:" in missing.stderr and "not found" in missing.stderr
    assert "correlation id" in missing.stderr and missing.stdout == ""

    deep = run("service", "graph", "api", "--depth", "99", code=1).stderr
    assert "error:" in deep and "depth" in deep

    assert "error:" in run("service", "check", "nope", code=1).stderr


def test_bad_options_exit_before_calling_the_api(logged_in: LoggedIn) -> None:
    at = run("service", "deploy", "api", "--env", "prod", "--version", "1", "--at", "soon",
             code=1)  # fmt: skip
    assert "--at 'soon' is not an ISO 8601" in at.stderr
    assert "SLUG, or --report" in run("service", "scorecard", code=1).stderr
    assert "SLUG, or --report" in run("service", "scorecard", "api", "--report", code=1).stderr
    run("service", "list", "--tier", "4", code=2)
