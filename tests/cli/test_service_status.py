"""`loom service versions|drift|check|scorecard|deploy` end to end against a stand-in
server (httpx.MockTransport) answering as the API contract of those endpoints says: what
each command asks for, prints, and which exit code it ends with."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from loom.cli import connect as connect_module
from loom.cli.output import console
from loom.client import LoomClient
from tests.cli.conftest import run
from tests.cli.test_service_views import BEHIND, MATRIX, SCORECARD

Answers = dict[tuple[str, str], Any]


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Callable[[Answers], list[httpx.Request]]:
    """Route the CLI's client to canned answers; returns the requests it sent."""
    monkeypatch.setattr(console, "_width", 200)
    monkeypatch.setenv("LOOM_URL", "http://loom.test")
    monkeypatch.setenv("LOOM_TOKEN", "loom_x")
    seen: list[httpx.Request] = []

    def install(answers: Answers) -> list[httpx.Request]:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            answer = answers.get((request.method, request.url.path))
            if answer is None:
                error = {"code": "NOT_FOUND", "message": "service 'nope' not found"}
                return httpx.Response(404, json={"error": error})
            return httpx.Response(201 if request.method == "POST" else 200, json=answer)

        def client(url: str, token: str | None = None) -> LoomClient:
            return LoomClient(url, token, transport=httpx.MockTransport(handler))

        monkeypatch.setattr(connect_module, "LoomClient", client)
        return seen

    return install


def _result(outcome: str) -> dict[str, Any]:
    return {"check_id": outcome, "name": f"{outcome}-check", "outcome": outcome,
            "status_code": 200 if outcome == "passing" else 503, "duration_ms": 40,
            "message": None if outcome == "passing" else "HTTP 503"}  # fmt: skip


RUN = "/api/v1/services/api/checks/run"


def test_check_exits_1_when_a_check_fails(stand_in: Callable[[Answers], Any]) -> None:
    stand_in({("POST", RUN): [_result("passing"), _result("degraded")]})
    assert "degraded-check" in run("service", "check", "api").stdout
    stand_in({("POST", RUN): [_result("passing"), _result("failing")]})
    out = run("service", "check", "api", code=1).stdout
    assert "failing-check" in out and "HTTP 503" in out
    data = json.loads(run("service", "check", "api", "-o", "json", code=1).stdout)
    assert [r["outcome"] for r in data] == ["passing", "failing"]
    stand_in({("POST", RUN): []})
    assert "api has no health checks" in run("service", "check", "api").stdout


def test_versions_and_drift(stand_in: Callable[[Answers], Any]) -> None:
    seen = stand_in({
        ("GET", "/api/v1/services/versions"): MATRIX,
        ("GET", "/api/v1/services/drift"): {"items": [BEHIND]},
    })  # fmt: skip
    out = run("service", "versions", "--team", "platform", "--tier", "1").stdout
    assert "1.2.0 ⚠" in out and "1 service drifting" in out
    assert dict(seen[-1].url.params) == {"team": "platform", "tier": "1"}
    matrix = json.loads(run("service", "versions", "-o", "json").stdout)
    assert matrix["items"][0]["service"] == "api"

    out = run("service", "drift", "--env", "production", "--kind", "behind").stdout
    assert "staging 1.3.0" in out and "behind" in out
    assert dict(seen[-1].url.params) == {"environment": "production", "kind": "behind"}
    assert json.loads(run("service", "drift", "-o", "json").stdout)["items"][0]["kind"] == "behind"

    stand_in({("GET", "/api/v1/services/drift"): {"items": []}})
    assert "no drift" in run("service", "drift").stdout


def test_scorecard_and_report(stand_in: Callable[[Answers], Any]) -> None:
    report = {"environment": "production", "required_level": "silver",
              "items": [{"service": "api", "level": "bronze", "score": 40, "go": False,
                         "failing": ["runbook"]}]}  # fmt: skip
    seen = stand_in({
        ("GET", "/api/v1/services/api/scorecard"): SCORECARD,
        ("GET", "/api/v1/scorecards/report"): report,
    })  # fmt: skip
    out = run("service", "scorecard", "api").stdout
    assert "api: level silver, score 80" in out and "✓" in out and "✗" in out
    out = run("service", "scorecard", "--report", "--env", "production").stdout
    assert "NO-GO" in out and "runbook" in out and "requires silver" in out
    assert dict(seen[-1].url.params) == {"environment": "production"}
    data = json.loads(run("service", "scorecard", "--report", "-o", "json").stdout)
    assert data["items"][0]["go"] is False


def test_deploy_records_a_deployment(stand_in: Callable[[Answers], Any]) -> None:
    answer = {"id": "00000000-0000-0000-0000-000000000001", "service": "api",
              "environment": "production", "version": "1.3.0", "deployed_by": "ci"}  # fmt: skip
    seen = stand_in({("POST", "/api/v1/services/api/deployments"): answer})
    out = run("service", "deploy", "api", "--env", "production", "--version", "1.3.0",
              "--commit", "abc123", "--at", "2026-11-27T10:00:00+00:00").stdout  # fmt: skip
    assert "recorded api 1.3.0 in production" in out
    assert json.loads(seen[-1].content) == {
        "environment": "production", "version": "1.3.0", "commit_sha": "abc123",
        "deployed_at": "2026-11-27T10:00:00+00:00",
    }  # fmt: skip
    assert "error:" in run("service", "deploy", "nope", "--env", "e", "--version", "1",
                           code=1).stderr  # fmt: skip
