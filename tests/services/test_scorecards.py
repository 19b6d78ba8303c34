"""Readiness scorecards: every check of the vocabulary, which rules apply, levels and
score, the API (rules, a service's scorecard, the go/no-go report), rule documents
reported at file and line, and tenancy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.services.scorecard_rules import Check, ScorecardRuleDocument
from loom.services.scorecards import check, scorecard
from tests.conftest import Tenant
from tests.services.conftest import sync_repo
from tests.services.support import SERVICES, deploy, other_org_admin, register

FACTS: dict[str, Any] = {
    "slug": "orders", "name": "Orders", "description": "Takes orders.", "owner": "team-a",
    "lifecycle": "production", "tier": 1, "system": "shop", "domain": None,
    "repositoryUrl": "https://github.com/acme/orders", "apiSpecUrl": None, "openapi": None,
    "links": [{"title": "Ops Runbook", "url": "https://wiki.test/r", "kind": "runbook"}],
    "tags": ["pci"], "metadata": {"pager": "orders"}, "operators": 2,
    "health": "passing", "drift": [],
}  # fmt: skip


def passes(node: dict[str, Any], **changes: Any) -> bool:
    ok, _ = check(Check.model_validate(node), {**FACTS, **changes})
    return ok


@pytest.mark.parametrize(
    ("node", "passing", "failing"),
    [
        ({"hasOwner": True}, {}, {"owner": None}),
        ({"hasDescription": True}, {}, {"description": ""}),
        ({"hasRepository": True}, {}, {"repositoryUrl": None}),
        ({"documentedApi": True}, {"openapi": {"openapi": "3.1.0"}}, {}),
        ({"documentedApi": True}, {"apiSpecUrl": "https://x.test/o.yaml"}, {}),
        ({"hasOncall": True}, {"metadata": {"oncall": "orders-pager"}}, {}),
        ({"hasOncall": True}, {"links": [{"title": "x", "url": "u", "kind": "oncall"}]}, {}),
        ({"healthChecksPassing": True}, {}, {"health": "degraded"}),
        ({"healthChecksPassing": True}, {}, {"health": None}),
        ({"noDrift": True}, {}, {"drift": [{"environment": "production"}]}),
        ({"hasLink": {"kind": "runbook"}}, {}, {"links": []}),
        ({"hasLink": {"title": "runbook"}}, {}, {"links": [{"title": "Docs", "kind": "docs"}]}),
        ({"minOwners": 2}, {}, {"operators": 1}),
        ({"field": "metadata.pager", "isSet": True}, {}, {"metadata": {}}),
        ({"field": "tier", "in": [1, 2]}, {}, {"tier": 3}),
        ({"all": [{"hasOwner": True}, {"minOwners": 2}]}, {}, {"operators": 0}),
        ({"any": [{"hasOncall": True}, {"minOwners": 2}]}, {}, {"operators": 0}),
        ({"not": {"field": "lifecycle", "equals": "deprecated"}}, {}, {"lifecycle": "deprecated"}),
    ],
)
def test_each_check_passes_and_fails(
    node: dict[str, Any], passing: dict[str, Any], failing: dict[str, Any]
) -> None:
    assert passes(node, **passing)
    if failing:
        assert not passes(node, **failing)
    else:  # the base facts have neither an API spec nor an on-call contact
        assert not passes(node)


def test_failures_say_why() -> None:
    assert check(Check(health_checks_passing=True), {**FACTS, "health": None}) == (
        False, "no health check",
    )  # fmt: skip
    _, detail = check(Check(min_owners=3), FACTS)
    assert detail == "2 operator(s) in team team-a, needs 3"


def rule(rule_id: str, level: str, node: dict[str, Any], **applies: Any) -> ScorecardRuleDocument:
    return ScorecardRuleDocument.model_validate({
        "apiVersion": "loom/v1", "kind": "ScorecardRule",
        "metadata": {"id": rule_id, "title": rule_id.title()},
        "spec": {"level": level, "message": f"fix {rule_id}", "appliesTo": applies, "check": node},
    })  # fmt: skip


def test_applies_to_filters_all_match() -> None:
    rules = [
        rule("tier-two", "bronze", {"hasOwner": True}, tier=2),
        rule("prod-pci", "bronze", {"hasOwner": True}, lifecycle="production", tags=["pci"]),
        rule("other-system", "bronze", {"hasOwner": True}, system=["billing"]),
    ]
    assert [r.id for r in scorecard(rules, FACTS).rules] == ["prod-pci"]


def test_levels_need_every_lower_level_and_score_counts_applicable_rules() -> None:
    rules = [
        rule("owner", "bronze", {"hasOwner": True}),
        rule("runbook", "silver", {"hasLink": {"kind": "runbook"}}),
        rule("api", "gold", {"documentedApi": True}),
        rule("never", "gold", {"hasOwner": True}, tier=3),
    ]
    card = scorecard(rules, FACTS)
    assert (card.level, card.score) == ("silver", 66.7)
    assert [r.id for r in card.failing] == ["api"]
    card = scorecard(rules, {**FACTS, "links": [], "apiSpecUrl": "https://x.test/o"})
    assert card.level == "bronze"  # gold passes, but silver does not: bronze it is
    assert scorecard(rules, {**FACTS, "owner": None}).level is None
    assert scorecard([], FACTS).score == 100.0


# -- over the API, rules synced from the catalog repository -------------------------------

RULES = """\
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-owner, title: Has an owner}
spec: {level: bronze, message: Set an owner., check: {hasOwner: true}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-runbook, title: Has a runbook}
spec:
  level: silver
  message: Add a runbook link.
  check: {hasLink: {kind: runbook}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: healthy, title: Health checks pass}
spec: {level: gold, message: Add a passing health check., check: {healthChecksPassing: true}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: two-operators, title: Two operators}
spec:
  level: gold
  message: Two operators in the team.
  appliesTo: {tier: 1}
  check: {minOwners: 2}
"""
RUNBOOK = [{"title": "Runbook", "url": "https://wiki.test/r", "kind": "runbook"}]


async def setup_registry(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    record = await sync_repo(app, repo, {"scorecards/rules.yaml": RULES})
    assert record.status == "ok", record.problems
    operator = tenant.headers["operator-a"]
    await register(client, operator, "orders", tier=1, links=RUNBOOK)
    await register(client, operator, "search", tier=2)
    await register(client, tenant.headers["operator-b"], "billing", team="team-b", tier=2)


async def test_rules_and_a_service_scorecard(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await setup_registry(app, client, tenant, repo)
    headers = tenant.headers["viewer-b"]
    rules = await client.get("/api/v1/scorecards", headers=headers)
    assert rules.status_code == 200
    assert [r["id"] for r in rules.json()["items"]] == [
        "has-owner", "has-runbook", "healthy", "two-operators",
    ]  # fmt: skip
    assert rules.json()["items"][3]["applies_to"] == {"tier": [1]}
    response = await client.get(f"{SERVICES}/orders/scorecard", headers=headers)
    assert response.status_code == 200
    card = response.json()
    assert (card["service"], card["level"], card["score"]) == ("orders", "silver", 75.0)
    healthy = next(r for r in card["rules"] if r["id"] == "healthy")
    assert healthy == {
        "id": "healthy", "title": "Health checks pass", "level": "gold", "passed": False,
        "message": "Add a passing health check.", "detail": "no health check",
    }  # fmt: skip


NO_DRIFT = """\
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: in-step, title: No drift}
spec: {level: gold, message: Promote through every environment., check: {noDrift: true}}
"""


async def test_health_and_drift_come_from_checks_and_deployments(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    record = await sync_repo(app, repo, {"scorecards/rules.yaml": RULES + NO_DRIFT})
    assert record.status == "ok", record.problems
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders", tier=2, links=RUNBOOK)
    url = f"{SERVICES}/orders/scorecard"

    def results(card: httpx.Response) -> dict[str, tuple[bool, str]]:
        return {r["id"]: (r["passed"], r["detail"]) for r in card.json()["rules"]}

    before = results(await client.get(url, headers=ops))
    assert before["healthy"] == (False, "no health check")
    assert before["in-step"][0] is True
    # A check on a host outside the allow-list fails when run; a hot-fix goes straight to
    # production (a version staging never ran).
    check = {"name": "health", "url": "http://10.1.2.3:9/health"}
    assert (await client.post(f"{SERVICES}/orders/checks", json=check, headers=ops)).is_success
    assert (await client.post(f"{SERVICES}/orders/checks/run", headers=ops)).is_success
    await deploy(client, ops, "orders", "dev", "1.0.0")
    await deploy(client, ops, "orders", "staging", "1.0.0")
    await deploy(client, ops, "orders", "production", "1.0.1-hotfix")
    after = results(await client.get(url, headers=ops))
    assert after["healthy"] == (False, "health checks are failing")
    passed, detail = after["in-step"]
    assert not passed and detail.startswith("1 drift finding(s): ")
    assert "1.0.1-hotfix" in detail
    assert (await client.get(url, headers=ops)).json()["level"] == "silver"


async def test_report_gives_go_or_no_go_per_environment(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await setup_registry(app, client, tenant, repo)
    headers = tenant.headers["viewer-a"]
    report = await client.get("/api/v1/scorecards/report", headers=headers)
    assert report.status_code == 200
    body = report.json()
    items = {i["service"]: i for i in body["items"]}
    assert items["orders"]["go"] == {"dev": True, "staging": True, "production": True}
    assert items["search"]["level"] == "bronze"
    assert items["search"]["go"]["production"] is False  # production requires silver
    assert [f["id"] for f in items["search"]["failing"]] == ["has-runbook", "healthy"]
    production = await client.get(
        "/api/v1/scorecards/report", params={"environment": "production"}, headers=headers
    )
    assert production.json()["required_levels"] == {"production": "silver"}
    assert production.json()["summary"] == {"services": 3, "go:production": 1}
    filtered = await client.get(
        "/api/v1/scorecards/report", params={"team": "team-b", "level": "bronze"}, headers=headers
    )
    assert [i["service"] for i in filtered.json()["items"]] == ["billing"]


@pytest.mark.parametrize(("param", "value"), [("environment", "moon"), ("level", "platinum")])
async def test_report_refuses_unknown_values_naming_the_parameter(
    client: httpx.AsyncClient, tenant: Tenant, param: str, value: str
) -> None:
    response = await client.get(
        "/api/v1/scorecards/report", params={param: value}, headers=tenant.headers["viewer-a"]
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == [param]


async def test_bad_rule_documents_are_reported_and_last_good_versions_count(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {"scorecards/rules.yaml": RULES})
    broken = RULES.replace("check: {hasOwner: true}", "check: {hasOwner: true, noDrift: true}")
    broken = broken.replace("level: silver", "level: platinum")
    broken = broken.replace("check: {minOwners: 2}", "check: {minOwners: 2, colour: red}")
    record = await sync_repo(app, repo, {"scorecards/rules.yaml": broken})
    assert record.status == "partial"
    assert {(p["line"], p["path"]) for p in record.problems} == {
        (4, "spec.check"), (10, "spec.level"), (26, "spec.check.colour"),
    }  # fmt: skip
    rules = (await client.get("/api/v1/scorecards", headers=tenant.headers["viewer-a"])).json()
    stale = {r["id"]: r["stale"] for r in rules["items"]}
    assert stale == {"has-owner": True, "has-runbook": True, "healthy": False,
                     "two-operators": True}  # fmt: skip
    record = await sync_repo(app, repo, {"scorecards/rules.yaml": None})
    rules = (await client.get("/api/v1/scorecards", headers=tenant.headers["viewer-a"])).json()
    assert rules["items"] == []


async def test_another_organisation_sees_neither_rules_nor_scorecards(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await setup_registry(app, client, tenant, repo)
    theirs = await other_org_admin(app)
    assert (await client.get("/api/v1/scorecards", headers=theirs)).json()["items"] == []
    card = await client.get(f"{SERVICES}/orders/scorecard", headers=theirs)
    assert card.status_code == 404
    report = await client.get("/api/v1/scorecards/report", headers=theirs)
    assert report.json()["items"] == []
