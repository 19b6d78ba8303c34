"""`loom service deploy|versions|drift|check|health|scorecard` against a live server: a
small registry with deployments (recorded through the CLI) that drift both ways, health
checks calling a local target (healthy, slow, broken), and readiness rules synced from a
catalog repository. What each command prints, and the exit codes it ends with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from loom.cli.output import console
from loom.client import LoomClient
from loom.demo import target
from loom.demo.fakes.server import FakeServer
from loom.settings import Settings
from tests.cli.conftest import LoggedIn, run
from tests.client.conftest import mint_token
from tests.conftest import ADMIN_EMAIL, make_settings

pytestmark = pytest.mark.sqlite_only

RULES = """\
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-owner, title: Has an owning team}
spec: {level: bronze, message: Set an owner., check: {hasOwner: true}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-runbook, title: Has a runbook}
spec: {level: silver, message: Add a runbook link., check: {hasLink: {kind: runbook}}}
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_width", 250)  # no cell is folded


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    repo = tmp_path / "catalog-repo"
    (repo / "scorecards").mkdir(parents=True)
    (repo / "scorecards" / "rules.yaml").write_text(RULES)
    (repo / "CODEOWNERS").write_text("* @acme/platform\n")
    return make_settings(
        database_url,
        allowed_hosts=["127.0.0.1"],
        catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache")},
    )


@pytest.fixture
def checked() -> Iterator[FakeServer]:
    """The demo's check target: /healthy, /slow (1.5 s), /broken (503)."""
    with target.build(0) as server:
        yield server


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@pytest.fixture
def registry(logged_in: LoggedIn, checked: FakeServer) -> LoggedIn:
    """platform's api (with a runbook) and auth; api's production is behind staging,
    auth's production runs a version staging never had; api's checks pass (one slowly),
    auth's fails. The scorecard rules are synced from the catalog repository."""
    token = mint_token(logged_in.url)
    runbook = {"title": "Runbook", "url": "https://wiki.test/api", "kind": "runbook"}
    with LoomClient(logged_in.url, token) as client:
        client.services.create("api", "API", "platform", tier=1, links=[runbook])
        client.services.create("auth", "Auth", "platform", tier=1)
    checks = {"api": [("ping", "/healthy"), ("slow", "/slow")], "auth": [("ping", "/broken")]}
    with httpx.Client(base_url=f"{logged_in.url}/api/v1", headers=_bearer(token)) as api:
        for slug, named in checks.items():
            for name, path in named:
                body = {"name": name, "url": f"{checked.url}{path}", "latency_threshold_ms": 500}
                created = api.post(f"/services/{slug}/checks", json=body)
                assert created.status_code == 201, created.text
    run("catalog", "refresh")
    return logged_in


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _deploy(slug: str, env: str, version: str, at: str, *more: str) -> str:
    args = ["service", "deploy", slug, "--env", env, "--version", version, "--at", at]
    return run(*args, *more).stdout


def _history(registry: LoggedIn) -> None:
    _deploy("api", "dev", "1.2.0", _ago(days=12))
    _deploy("api", "staging", "1.2.0", _ago(days=11))
    _deploy("api", "production", "1.2.0", _ago(days=10))
    _deploy("api", "dev", "1.3.0", _ago(days=6))
    _deploy("api", "staging", "1.3.0", _ago(days=5))
    _deploy("auth", "dev", "2.0.0", _ago(days=1))
    _deploy("auth", "staging", "2.0.0", _ago(days=1))
    _deploy("auth", "production", "2.0.1", _ago(hours=5))


def test_deploy_records_what_runs_where(registry: LoggedIn) -> None:
    out = _deploy("api", "dev", "1.2.0", _ago(days=1), "--commit", "abc1234",
                  "--url", "https://ci.test/run/1", "--description", "first")  # fmt: skip
    assert "recorded api 1.2.0 in dev" in out
    data = json.loads(run("service", "deploy", "api", "--env", "staging", "--version", "1.2.0",
                          "--idempotency-key", "k1", "-o", "json").stdout)  # fmt: skip
    assert (data["service"], data["environment"], data["version"]) == ("api", "staging", "1.2.0")
    assert data["deployed_by"] == ADMIN_EMAIL
    again = json.loads(run("service", "deploy", "api", "--env", "staging", "--version", "1.2.0",
                           "--idempotency-key", "k1", "-o", "json").stdout)  # fmt: skip
    assert again["id"] == data["id"]  # recorded once
    with LoomClient(registry.url, mint_token(registry.url)) as client:
        history = list(client.services.iter_deployments("api"))
    assert [(d.environment, d.commit_sha) for d in history] == [
        ("staging", None),
        ("dev", "abc1234"),
    ]
    assert history[1].url == "https://ci.test/run/1" and history[1].description == "first"

    bad = run("service", "deploy", "api", "--env", "qa", "--version", "1", code=1).stderr
    assert "environment" in bad and "qa" in bad
    naive = run("service", "deploy", "api", "--env", "dev", "--version", "1",
                "--at", "2026-01-01T10:00:00", code=1).stderr  # fmt: skip
    assert "deployed_at" in naive and "timezone" in naive
    assert "error:" in run("service", "deploy", "nope", "--env", "dev", "--version", "1",
                           code=1).stderr  # fmt: skip


def test_versions_and_drift(registry: LoggedIn) -> None:
    _history(registry)
    out = run("service", "versions").stdout
    (api,) = [line for line in out.splitlines() if "│ api" in line]
    assert api.index("1.3.0") < api.index("1.2.0 ⚠") and "behind" in api
    (auth,) = [line for line in out.splitlines() if "│ auth" in line]
    assert "2.0.1 ⚠" in auth and "unseen_version" in auth
    assert "2 services drifting" in out
    matrix = json.loads(run("service", "versions", "--tier", "1", "-o", "json").stdout)
    assert [e["slug"] for e in matrix["environments"]] == ["dev", "staging", "production"]
    rows = {row["service"]: row for row in matrix["items"]}
    assert rows["api"]["versions"]["production"]["version"] == "1.2.0"

    out = run("service", "drift").stdout
    assert "staging 1.3.0" in out and "behind" in out and "unseen_version" in out
    behind = json.loads(run("service", "drift", "--kind", "behind", "-o", "json").stdout)
    assert [(f["service"], f["environment"]) for f in behind["items"]] == [("api", "production")]
    assert "no drift" in run("service", "drift", "--env", "staging").stdout
    assert "error:" in run("service", "drift", "--kind", "sideways", code=1).stderr


def test_check_runs_the_checks_and_exits_1_when_one_fails(registry: LoggedIn) -> None:
    out = run("service", "check", "api").stdout
    assert "api: 2 checks" in out
    (ping,) = [line for line in out.splitlines() if "│ ping" in line]
    (slow,) = [line for line in out.splitlines() if "│ slow" in line]
    assert "passing" in ping and "200" in ping
    assert "degraded" in slow  # over its 500 ms threshold: degraded, not failing
    failed = run("service", "check", "auth", code=1).stdout
    assert "failing" in failed and "503" in failed
    data = json.loads(run("service", "check", "auth", "-o", "json", code=1).stdout)
    assert [(c["name"], c["status"]) for c in data] == [("ping", "failing")]
    assert data[0]["last_result"]["status_code"] == 503

    health = run("service", "health", "api").stdout
    assert "api: degraded" in health  # its worst check
    assert "ping" in health and "100%" in health
    overall = json.loads(run("service", "health", "auth", "-o", "json").stdout)
    assert overall["status"] == "failing"
    assert overall["checks"][0]["windows"]["24h"]["samples"] == 2
    assert "error:" in run("service", "check", "nope", code=1).stderr


def test_check_of_a_service_without_checks(registry: LoggedIn) -> None:
    with LoomClient(registry.url, mint_token(registry.url)) as client:
        client.services.create("quiet", "Quiet", "platform")
    assert "quiet has no enabled health checks" in run("service", "check", "quiet").stdout
    assert "quiet has no health checks" in run("service", "health", "quiet").stdout


def test_scorecard_and_report(registry: LoggedIn) -> None:
    out = run("service", "scorecard", "api").stdout
    assert "api: level gold, score 100" in out  # no gold rule: silver is enough
    out = run("service", "scorecard", "auth").stdout
    assert "auth: level bronze, score 50" in out and "✗" in out and "Add a runbook link." in out
    card = json.loads(run("service", "scorecard", "auth", "-o", "json").stdout)
    assert {r["id"]: r["passed"] for r in card["rules"]} == {
        "has-owner": True,
        "has-runbook": False,
    }

    out = run("service", "scorecard", "--report").stdout
    assert "production (silver)" in out
    (auth,) = [line for line in out.splitlines() if "│ auth" in line]
    assert "NO-GO" in auth and "has-runbook" in auth
    (api,) = [line for line in out.splitlines() if "│ api" in line]
    assert "NO-GO" not in api and "GO" in api
    report = json.loads(
        run("service", "scorecard", "--report", "--env", "production", "-o", "json").stdout
    )
    assert {i["service"]: i["go"] for i in report["items"]} == {
        "api": {"production": True},
        "auth": {"production": False},
    }
    only = json.loads(run("service", "scorecard", "--report", "--level", "bronze",
                          "-o", "json").stdout)  # fmt: skip
    assert [i["service"] for i in only["items"]] == ["auth"]
    assert "error:" in run("service", "scorecard", "--report", "--env", "qa", code=1).stderr
    assert "error:" in run("service", "scorecard", code=1).stderr
