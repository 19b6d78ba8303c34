"""The pure views of `loom service`: graph tree, version matrix, drift, check results and
scorecards, fed sample answers shaped as the API contract says (with fields the client
does not know, which it must ignore)."""

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
    report_table,
    scorecard_table,
    versions_table,
)
from loom.client.service_models import (
    CheckRun,
    DriftFinding,
    Graph,
    Scorecard,
    ScorecardReport,
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


def _results(*outcomes: str) -> CheckRun:
    return CheckRun.model_validate([
        {"check_id": f"c{i}", "name": f"check-{i}", "outcome": outcome, "status_code": 200,
         "duration_ms": 12.0, "message": None if outcome == "passing" else "slow"}
        for i, outcome in enumerate(outcomes)
    ])  # fmt: skip


def test_check_results_exit_1_only_when_one_fails() -> None:
    assert checks_exit_code(_results("passing", "degraded").items) == 0
    assert checks_exit_code(_results("passing", "failing").items) == 1
    assert checks_exit_code([]) == 0
    table = checks_table(_results("passing", "failing").items)
    assert [(c.plain, c.style) for c in column(table, "outcome")] == [
        ("passing", "green"),
        ("failing", "bold red"),
    ]
    text = render(table)
    assert "check-1" in text and "12 " in text and "slow" in text


SCORECARD = {
    "service": "api", "level": "silver", "score": 80, "computed_at": "now",
    "rules": [
        {"id": "has-owner", "title": "Has an owner", "level": "bronze", "passed": True,
         "message": "Every service needs an owning team", "detail": None},
        {"id": "two-owners", "title": "Tier 1 has two owners", "level": "gold",
         "passed": False, "message": "Add a second owner", "detail": {"owners": 1}},
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


def test_report_says_go_or_no_go() -> None:
    report = ScorecardReport.model_validate({
        "environment": "production", "required_level": "silver",
        "items": [
            {"service": "api", "level": "silver", "score": 80, "go": True, "failing": []},
            {"service": "auth", "level": "bronze", "score": 40.5, "go": False,
             "failing": ["runbook", "two-owners"]},
        ],
    })  # fmt: skip
    table = report_table(report)
    assert table.title == "production (requires silver)"
    assert [(c.plain, c.style) for c in column(table, "go")] == [
        ("GO", "green"),
        ("NO-GO", "bold red"),
    ]
    assert [c.plain for c in column(table, "failing")] == ["", "runbook, two-owners"]
    assert [c.plain for c in column(table, "score")] == ["80", "40.5"]


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
