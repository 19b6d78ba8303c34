"""The pure views of `loom service`: graph tree, version matrix, drift, checks, health and
scorecards, fed sample answers shaped as the API answers (with fields the client does
not know, which it must ignore). tests/cli/test_service_status.py runs the commands
against the real API."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from loom.cli.service_views import (
    DRIFT_STYLE,
    checks_exit_code,
    checks_table,
    cycle_lines,
    drift_rows,
    graph_tree,
    health_table,
    report_table,
    scorecard_table,
    versions_table,
)
from loom.client.service_models import (
    Check,
    DriftFinding,
    Graph,
    Scorecard,
    ScorecardReport,
    ServiceHealth,
    VersionMatrix,
)

TEAM = "6f1c2b4e-8a59-4a7e-9a53-0d3e7a1b2c3d"


def render(renderable: RenderableType) -> str:
    out = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    out.print(renderable)
    return out.export_text()


def column(table: Table, header: str) -> list[Text]:
    (found,) = [c for c in table.columns if c.header == header]
    cells = list(found.cells)
    assert all(isinstance(c, Text) for c in cells)
    return cells  # type: ignore[return-value]


def _deployed(version: str) -> dict[str, Any]:
    return {"version": version, "deployed_at": "2026-11-20T10:00:00Z", "deployed_by": "ci",
            "commit_sha": "abc123", "pipeline": "extra"}  # fmt: skip


BEHIND = {
    "service": "api", "environment": "production", "kind": "behind",
    "message": "production runs 1.2.0, staging 1.3.0 for 3 days", "version": "1.2.0",
    "reference_environment": "staging", "reference_version": "1.3.0",
    "since": "2026-11-24T08:00:00Z",
}  # fmt: skip
MATRIX = {
    "environments": [
        {"slug": "production", "name": "Production", "rank": 3},
        {"slug": "dev", "name": "Dev", "rank": 1},
        {"slug": "staging", "name": "Staging", "rank": 2},
    ],
    "items": [
        {"service": "api", "name": "API", "team_id": TEAM, "tier": 1,
         "versions": {"dev": _deployed("1.3.0"), "staging": _deployed("1.3.0"),
                      "production": _deployed("1.2.0")},
         "drift": [BEHIND]},
        {"service": "auth", "name": "Auth", "team_id": TEAM, "tier": 2,
         "versions": {"dev": _deployed("0.9.0"), "staging": None, "production": None},
         "drift": []},
    ],
}  # fmt: skip


def test_version_matrix_orders_environments_and_marks_drift() -> None:
    table = versions_table(VersionMatrix.model_validate(MATRIX))
    assert [c.header for c in table.columns] == [
        "service", "tier", "Dev", "Staging", "Production", "drift",
    ]  # fmt: skip
    production = column(table, "Production")
    assert production[0].plain == "1.2.0 ⚠" and production[0].style == DRIFT_STYLE
    assert production[1].plain == "—" and production[1].style != DRIFT_STYLE
    assert all(c.style != DRIFT_STYLE for c in column(table, "Staging"))
    assert [c.plain for c in column(table, "drift")] == ["behind", ""]
    lines = render(table).splitlines()
    (api,) = [line for line in lines if "│ api" in line]
    assert api.index("1.3.0") < api.index("1.2.0 ⚠")


def test_drift_rows_name_what_they_compare_with() -> None:
    (row,) = drift_rows([DriftFinding.model_validate({**BEHIND, "severity": "new"})])
    assert row == [
        "api", "production", "behind", "1.2.0", "staging 1.3.0", "2026-11-24 08:00:00Z",
        "production runs 1.2.0, staging 1.3.0 for 3 days",
    ]  # fmt: skip
    bare = {"service": "auth", "environment": "dev", "kind": "unseen"}
    assert drift_rows([DriftFinding.model_validate(bare)]) == [
        ["auth", "dev", "unseen", "", "", "", ""]
    ]


CHECK_ID = "00000000-0000-0000-0000-0000000000c1"


def _checks(*statuses: str) -> list[Check]:
    return [
        Check.model_validate({
            "id": CHECK_ID, "service": "api", "name": f"check-{i}", "url": "http://t/health",
            "status": status, "status_since": "2026-11-27T10:00:00Z", "interval_seconds": 60,
            "last_result": {"started_at": "2026-11-27T10:00:00Z", "duration_ms": 12,
                            "ok": status != "failing", "status_code": 200, "outcome": status,
                            "message": "" if status == "passing" else "slow"},
        })
        for i, status in enumerate(statuses)
    ]  # fmt: skip


def test_checks_exit_1_only_when_one_fails() -> None:
    assert checks_exit_code(_checks("passing", "degraded")) == 0
    assert checks_exit_code(_checks("passing", "failing")) == 1
    assert checks_exit_code([]) == 0
    table = checks_table(_checks("passing", "failing"))
    assert [(c.plain, c.style) for c in column(table, "status")] == [
        ("passing", "green"),
        ("failing", "bold red"),
    ]
    text = render(table)
    assert "check-1" in text and "12 " in text and "slow" in text
    never = Check.model_validate({"id": CHECK_ID, "name": "new", "status": "unknown"})
    assert render(checks_table([never])).count("unknown") == 1


def test_health_shows_availability_per_window() -> None:
    window = {"availability": 99.5, "p50_ms": 20, "p95_ms": 180, "samples": 1440}
    health = ServiceHealth.model_validate({
        "status": "degraded",
        "checks": [{"id": CHECK_ID, "name": "ping", "url": "http://t", "status": "degraded",
                    "status_since": "2026-11-27T10:00:00Z", "last_result": None,
                    "windows": {"24h": window, "7d": {**window, "availability": None,
                                                     "p95_ms": None, "samples": 0}}}],
    })  # fmt: skip
    table = health_table(health, "api: degraded")
    assert [c.header for c in table.columns] == ["check", "status", "since", "24h", "7d", "30d"]
    assert [c.plain for c in column(table, "24h")] == ["99.5%, p95 180 ms"]
    assert [c.plain for c in column(table, "7d")] == ["—"]
    assert [c.plain for c in column(table, "30d")] == ["—"]


SCORECARD = {
    "service": "api", "level": "silver", "score": 80, "computed_at": "now",
    "rules": [
        {"id": "has-owner", "title": "Has an owner", "level": "bronze", "passed": True,
         "message": "Every service needs an owning team", "detail": ""},
        {"id": "two-owners", "title": "Tier 1 has two owners", "level": "gold",
         "passed": False, "message": "Add a second owner", "detail": "1 owner"},
    ],
}  # fmt: skip


def test_scorecard_ticks_rules_and_names_the_level() -> None:
    table = scorecard_table(Scorecard.model_validate(SCORECARD))
    assert table.title == "api: level silver, score 80"
    assert [c.plain for c in column(table, "")] == ["✓", "✗"]
    assert [c.plain for c in column(table, "rule")] == ["has-owner", "two-owners"]
    assert "Add a second owner" in render(table)
    unscored = Scorecard.model_validate({"service": "x", "level": None, "rules": []})
    assert scorecard_table(unscored).title == "x: level none"


def _failed(rule: str) -> dict[str, Any]:
    return {"id": rule, "title": rule, "level": "silver", "passed": False,
            "message": "do it", "detail": ""}  # fmt: skip


def test_report_says_go_or_no_go_per_environment() -> None:
    report = ScorecardReport.model_validate({
        "environment": None, "required_levels": {"staging": "bronze", "production": "silver"},
        "summary": {"services": 2, "go:staging": 2, "go:production": 1},
        "items": [
            {"service": "api", "name": "API", "team": "platform", "level": "silver",
             "score": 80, "failing": [], "go": {"staging": True, "production": True}},
            {"service": "auth", "name": "Auth", "team": "platform", "level": "bronze",
             "score": 40.5, "failing": [_failed("runbook"), _failed("two-owners")],
             "go": {"staging": True, "production": False}},
        ],
    })  # fmt: skip
    table = report_table(report)
    assert table.title == "readiness"
    assert [(c.plain, c.style) for c in column(table, "production (silver)")] == [
        ("GO", "green"),
        ("NO-GO", "bold red"),
    ]
    assert [c.plain for c in column(table, "staging (bronze)")] == ["GO", "GO"]
    assert [c.plain for c in column(table, "failing")] == ["", "runbook, two-owners"]
    assert [c.plain for c in column(table, "score")] == ["80", "40.5"]
    one = ScorecardReport.model_validate({
        "environment": "production", "required_levels": {"production": "silver"},
        "items": [{"service": "x", "level": None, "score": 0, "failing": [], "go": {}}],
    })  # fmt: skip
    table = report_table(one)
    assert table.title == "readiness for production"
    assert [c.plain for c in column(table, "level")] == ["none"]
    assert [c.plain for c in column(table, "production (silver)")] == ["—"]


def _node(slug: str) -> dict[str, Any]:
    return {"slug": slug, "name": slug.title(), "tier": 2, "lifecycle": "production",
            "team_id": TEAM, "team": "platform", "distance": 0}  # fmt: skip


def _edge(n: int, source: str, target: str | None, resource: str | None = None) -> dict[str, Any]:
    return {"id": f"00000000-0000-0000-0000-00000000000{n}", "source": source,
            "target": target, "target_resource": resource, "kind": "sync",
            "criticality": "high"}  # fmt: skip


GRAPH = Graph.model_validate({
    "nodes": [_node(s) for s in ("a", "b", "c", "d")],
    "edges": [_edge(1, "a", "b"), _edge(2, "b", "c"), _edge(3, "c", "a"), _edge(4, "c", "d"),
              _edge(5, "a", None, "postgres:a-db"), _edge(6, "d", "a")],
    "cycles": [["a", "b", "c"]],
})  # fmt: skip


def _lines(text: str) -> list[str]:
    return [line.strip("│├└─ ") for line in text.splitlines() if line.strip()]


def test_graph_tree_follows_calls_and_stops_at_loops() -> None:
    lines = _lines(render(graph_tree(GRAPH, "a", depth=3, direction="down")))
    assert [line.split()[0] for line in lines] == ["a", "b", "c", "↻", "d", "postgres:a-db"]
    assert "↻ a  cycle  (sync, high)" in lines
    assert lines[1] == "b  tier 2 · platform · production  (sync, high)"
    assert "outside resource" in lines[-1]

    shallow = _lines(render(graph_tree(GRAPH, "a", depth=1, direction="down")))
    assert [line.split()[0] for line in shallow] == ["a", "b", "postgres:a-db"]


def test_graph_tree_both_ways_has_two_branches() -> None:
    lines = _lines(render(graph_tree(GRAPH, "a", depth=1, direction="both")))
    assert [line.split()[0] for line in lines] == [
        "a", "calls", "b", "postgres:a-db", "called", "c", "d",
    ]  # fmt: skip
    assert cycle_lines(GRAPH) == ["a → b → c → a"]
