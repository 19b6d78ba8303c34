"""A service's status in the portal: the Versions, Health and Scorecard tabs (with the
operators' "record a deployment" and "run checks now" forms), the version matrix, the
readiness report, and health in the service list and the graph. The data is made through
the API (deployments, a check run against a host outside the allow-list, so it fails
without any network; scorecard rules synced from the catalog repository)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from loom.audit.models import AuditEntry
from loom.auth.models import User
from loom.auth.passwords import hash_password
from loom.catalog.sync import sync
from loom.services.check_models import ServiceCheckResult
from loom.services.models import ServiceDeployment
from loom.settings import Settings
from tests.catalog.conftest import write_catalog
from tests.conftest import Tenant, make_settings
from tests.services.support import SERVICES, deploy, other_org_admin, register
from tests.web.conftest import csrf_of
from tests.web.support import PASSWORD, SignedIn, give_passwords, signed_in_as
from tests.web.test_catalog_pages import parse

__all__ = ["signed_in_as"]

RULES = """\
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-owner, title: Has an owner}
spec: {level: bronze, message: Set an owner., check: {hasOwner: true}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: has-runbook, title: Has a runbook}
spec: {level: silver, message: Add a runbook link., check: {hasLink: {kind: runbook}}}
---
apiVersion: loom/v1
kind: ScorecardRule
metadata: {id: healthy, title: Health checks pass}
spec: {level: gold, message: Add a passing health check., check: {healthChecksPassing: true}}
"""
RUNBOOK = [{"title": "Runbook", "url": "https://wiki.test/r", "kind": "runbook"}]
#: Outside the allow-list: a run fails at once, without touching the network.
UNREACHABLE = "http://10.1.2.3:9/health"
HOTFIX = "1.0.1-hotfix"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"CODEOWNERS": "* @acme/team-a\n", "scorecards/rules.yaml": RULES}
    return write_catalog(tmp_path / "catalog-repo", files)


@pytest.fixture
def settings(database_url: str, repo: Path, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache"), "sync_on_start": False},
    )


@pytest.fixture
async def shop(app: FastAPI, client: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    """orders (team A): 1.0.0 through dev and staging, a hot-fix straight to production
    (drift), a failing check; payments (team B): nothing deployed, no check."""
    await give_passwords(app, tenant)
    record = await sync(app.state.runtime, trigger="test")
    assert record.status == "ok", record.problems
    ops = tenant.headers["operator-a"]
    await register(client, ops, "orders", name="Orders", tier=1, links=RUNBOOK)
    await register(client, tenant.headers["operator-b"], "payments", team="team-b", tier=2)
    await deploy(client, ops, "orders", "dev", "1.0.0", commit_sha="abcdef1234567")
    await deploy(client, ops, "orders", "staging", "1.0.0")
    await deploy(client, ops, "orders", "production", HOTFIX, description="<b>hot</b>")
    check = {"name": "ping", "url": UNREACHABLE}
    assert (await client.post(f"{SERVICES}/orders/checks", json=check, headers=ops)).is_success
    assert (await client.post(f"{SERVICES}/orders/checks/run", headers=ops)).is_success
    return tenant


async def as_user(signed_in_as: SignedIn, who: str) -> httpx.AsyncClient:
    return await signed_in_as(f"{who}@loom.test")


def rows_of(page: httpx.Response, table: str, attribute: str) -> list[str]:
    found = parse(page.text).by_id(table).find_all("tr")
    return [row.get(attribute) or "" for row in found if row.has(attribute)]


async def count(app: FastAPI, model: type, **where: object) -> int:
    async with app.state.runtime.sessions() as s:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(await s.scalar(stmt) or 0)


# --- the versions tab -----------------------------------------------------------------------


async def test_versions_tab_shows_what_runs_where_its_drift_and_history(
    signed_in_as: SignedIn, shop: Tenant
) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get("/ui/services/orders/versions")
    assert page.status_code == 200
    doc = parse(page.text)
    current = {
        row.get("data-environment"): row
        for row in doc.by_id("versions-table").find_all("tr")
        if row.has("data-environment")
    }
    assert list(current) == ["dev", "staging", "production"]
    assert "1.0.0" in current["dev"].text and "abcdef123456" in current["dev"].text
    assert "operator-a@loom.test" in current["dev"].text
    assert "drifting" not in (current["staging"].get("class") or "")
    # The hot-fix staging never ran: production's cell is highlighted with the finding.
    assert current["production"].get("class") == "drifting"
    message = f"orders {HOTFIX} runs in production but was never deployed to staging"
    assert message in current["production"].text
    assert [li.text for li in doc.by_id("service-drift").find_all("li")] == [message]
    # The history, newest first, and filtered by environment.
    assert rows_of(page, "history-table", "data-environment") == ["production", "staging", "dev"]
    assert "&lt;b&gt;hot&lt;/b&gt;" in page.text and "<b>hot</b>" not in page.text
    dev = await client.get("/ui/services/orders/versions", params={"environment": "dev"})
    assert rows_of(dev, "history-table", "data-environment") == ["dev"]
    # An environment that does not exist shows the whole history rather than an error.
    moon = await client.get("/ui/services/orders/versions", params={"environment": "moon"})
    assert rows_of(moon, "history-table", "data-environment") == [
        "production", "staging", "dev",
    ]  # fmt: skip
    # Not an operator of team A: no form to record a deployment.
    assert 'id="deployment-form"' not in page.text
    tabs = [a.get("data-tab") for a in doc.find_all("a") if a.has("data-tab")]
    assert tabs[-3:] == ["versions", "health", "scorecard"]


async def test_operators_record_a_deployment_from_the_versions_tab(
    app: FastAPI, signed_in_as: SignedIn, shop: Tenant
) -> None:
    client = await as_user(signed_in_as, "operator-a")
    tab = await client.get("/ui/services/orders/versions")
    assert 'id="deployment-form"' in tab.text
    form = {"csrf_token": csrf_of(tab), "environment": "staging", "version": HOTFIX,
            "commit_sha": "1234567", "description": "catch up"}  # fmt: skip
    done = await client.post("/ui/services/orders/deployments", data=form)
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/services/orders/versions?done=deployed"
    page = await client.get(done.headers["location"])
    assert 'id="service-notice"' in page.text
    # Staging has the hot-fix now: production no longer drifts, staging does (dev never
    # ran it).
    drift = parse(page.text).by_id("service-drift").find_all("li")
    assert [li.get("data-drift") for li in drift] == ["staging"]
    assert rows_of(page, "history-table", "data-environment")[0] == "staging"
    assert await count(app, AuditEntry, action="service.deploy") == 4
    # Bad input is the tab again, the field named, nothing recorded.
    bad = await client.post(
        "/ui/services/orders/deployments",
        data={**form, "environment": "moon", "version": "2.0.0"},
    )
    assert bad.status_code == 422
    assert parse(bad.text).by_id("deployment-errors").text.startswith("environment: no environment")
    assert 'value="2.0.0"' in bad.text
    sha = await client.post(
        "/ui/services/orders/deployments", data={**form, "commit_sha": "not-a-sha"}
    )
    assert sha.status_code == 422
    assert parse(sha.text).by_id("deployment-errors").text.startswith("commit_sha: ")
    assert await count(app, ServiceDeployment) == 4


async def test_recording_a_deployment_needs_an_operator_and_a_csrf_token(
    app: FastAPI, signed_in_as: SignedIn, shop: Tenant
) -> None:
    operator = await as_user(signed_in_as, "operator-a")
    token = csrf_of(await operator.get("/ui/services/orders/versions"))
    form = {"environment": "dev", "version": "9.9.9"}
    refused = await operator.post("/ui/services/orders/deployments", data=form)
    assert refused.status_code == 403
    forged = await operator.post(
        "/ui/services/orders/deployments", data={**form, "csrf_token": "x" + token}
    )
    assert forged.status_code == 403
    # An operator of another team, with a good token: the registry refuses.
    other = await as_user(signed_in_as, "operator-b")
    other_token = csrf_of(await other.get("/ui/services/orders/versions"))
    denied = await other.post(
        "/ui/services/orders/deployments", data={**form, "csrf_token": other_token}
    )
    assert denied.status_code == 403
    assert await count(app, ServiceDeployment) == 3


# --- the health tab -------------------------------------------------------------------------


async def test_health_tab_shows_each_check_over_time(signed_in_as: SignedIn, shop: Tenant) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get("/ui/services/orders/health")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.by_id("health-overall").text == "failing"
    [row] = [r for r in doc.by_id("checks-table").find_all("tr") if r.has("data-check")]
    assert (row.get("data-check"), row.get("data-status")) == ("ping", "failing")
    assert "host not allowed" in row.text
    windows = [td.text for td in row.find_all("td") if td.has("data-window")]
    assert windows == ["0.00 %", "0.00 %", "0.00 %"]
    assert " ms" in row.text  # p50 / p95 of the run
    assert 'id="run-checks"' not in page.text  # not an operator of team A
    empty = await client.get("/ui/services/payments/health")
    assert parse(empty.text).by_id("health-overall").text == "unknown"
    assert 'id="no-checks"' in empty.text


async def test_operators_run_the_checks_now(
    app: FastAPI, signed_in_as: SignedIn, shop: Tenant
) -> None:
    viewer = await as_user(signed_in_as, "viewer-a")
    token = csrf_of(await viewer.get("/ui/services/orders/health"))
    refused = await viewer.post("/ui/services/orders/checks/run", data={"csrf_token": token})
    assert refused.status_code == 403
    operator = await as_user(signed_in_as, "operator-a")
    page = await operator.get("/ui/services/orders/health")
    assert 'id="run-checks"' in page.text
    no_token = await operator.post("/ui/services/orders/checks/run")
    assert no_token.status_code == 403
    assert await count(app, ServiceCheckResult) == 1
    done = await operator.post("/ui/services/orders/checks/run", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 303
    assert done.headers["location"] == "/ui/services/orders/health?done=checks-run"
    assert await count(app, ServiceCheckResult) == 2
    fresh = await operator.get(done.headers["location"])
    assert "the results below are fresh" in fresh.text
    assert "host not allowed" in fresh.text


# --- the scorecard tab ----------------------------------------------------------------------


async def test_scorecard_tab_shows_level_score_and_each_rule(
    signed_in_as: SignedIn, shop: Tenant
) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get("/ui/services/orders/scorecard")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.by_id("scorecard-level").text == "silver"
    assert "66.7 %" in doc.by_id("scorecard-score").text
    rules = {r.get("data-rule"): r for r in doc.by_id("rules-table").find_all("tr")
             if r.has("data-rule")}  # fmt: skip
    assert {k: r.get("data-passed") for k, r in rules.items()} == {
        "has-owner": "true", "has-runbook": "true", "healthy": "false",
    }  # fmt: skip
    assert "✗" in rules["healthy"].text and "health checks are failing" in rules["healthy"].text
    assert "Add a passing health check." in rules["healthy"].text
    assert "✓" in rules["has-owner"].text
    payments = parse((await client.get("/ui/services/payments/scorecard")).text)
    assert payments.by_id("scorecard-level").text == "bronze"


# --- the version matrix and the readiness report -------------------------------------------


async def test_the_matrix_highlights_drift(signed_in_as: SignedIn, shop: Tenant) -> None:
    client = await as_user(signed_in_as, "viewer-b")
    page = await client.get("/ui/services/versions")
    assert page.status_code == 200
    assert '<a href="/ui/services" aria-current="page">' in page.text  # the Services domain
    assert '<a href="/ui/services/versions" data-view="versions" aria-current="true">' in page.text
    doc = parse(page.text)
    assert rows_of(page, "version-matrix", "data-service") == ["orders", "payments"]
    orders = next(r for r in doc.by_id("version-matrix").find_all("tr")
                  if r.get("data-service") == "orders")  # fmt: skip
    cells = {td.get("data-environment"): td for td in orders.find_all("td")}
    message = f"orders {HOTFIX} runs in production but was never deployed to staging"
    assert cells["production"].get("class") == "drifting"
    assert cells["production"].get("title") == message
    assert cells["staging"].get("class") is None and "1.0.0" in cells["staging"].text
    drift = [r for r in doc.by_id("drift-table").find_all("tr") if r.has("data-service")]
    assert [(r.get("data-service"), r.get("data-environment"), r.get("data-kind"))
            for r in drift] == [("orders", "production", "unseen_version")]  # fmt: skip
    assert message in drift[0].text
    team_b = await client.get("/ui/services/versions", params={"team": "team-b", "tier": "2"})
    assert rows_of(team_b, "version-matrix", "data-service") == ["payments"]
    assert 'id="no-drift"' in team_b.text
    by_system = await client.get("/ui/services/versions", params={"system": "nowhere"})
    assert 'id="matrix-empty"' in by_system.text
    drift_link = await client.get("/ui/services/drift")
    assert drift_link.status_code == 303
    assert drift_link.headers["location"] == "/ui/services/versions#drift"


async def test_the_scorecards_page_gives_go_or_no_go(signed_in_as: SignedIn, shop: Tenant) -> None:
    client = await as_user(signed_in_as, "viewer-a")
    page = await client.get("/ui/scorecards")
    assert page.status_code == 200
    assert '<a href="/ui/services" aria-current="page">' in page.text  # the Services domain
    assert '<a href="/ui/scorecards" data-view="scorecards" aria-current="true">' in page.text
    doc = parse(page.text)
    rows = {r.get("data-service"): r for r in doc.by_id("scorecard-report").find_all("tr")
            if r.has("data-service")}  # fmt: skip
    assert {k: r.get("data-level") for k, r in rows.items()} == {
        "orders": "silver", "payments": "bronze",
    }  # fmt: skip
    go = {td.get("data-go"): td.text for td in rows["payments"].find_all("td") if td.has("data-go")}
    assert go == {"dev": "go", "staging": "go", "production": "no-go"}  # production needs silver
    failing = [li.get("data-rule") for li in rows["payments"].find_all("li")]
    assert failing == ["has-runbook", "healthy"]
    assert rows["orders"].find_all("a")[0].get("href") == "/ui/services/orders/scorecard"
    production = await client.get("/ui/scorecards", params={"environment": "production"})
    summary = parse(production.text).by_id("scorecard-summary").text
    assert "go to production: 1" in summary and "go to dev" not in summary
    unknown = await client.get("/ui/scorecards", params={"environment": "moon"})
    assert unknown.status_code == 200 and "go to dev: 2" in unknown.text


# --- health in the list and the graph -------------------------------------------------------


async def test_the_list_shows_health_and_filters_by_it(
    client: httpx.AsyncClient, signed_in_as: SignedIn, shop: Tenant
) -> None:
    portal = await as_user(signed_in_as, "viewer-b")
    page = await portal.get("/ui/services")
    doc = parse(page.text)
    health = {
        row.get("data-service"): next(td.get("data-health") for td in row.find_all("td")
                                      if td.has("data-health"))
        for row in doc.by_id("services-table").find_all("tr") if row.has("data-service")
    }  # fmt: skip
    assert health == {"orders": "failing", "payments": "unknown"}
    for state, expected in [("failing", ["orders"]), ("unknown", ["payments"]),
                            ("passing", []), ("nonsense", ["orders", "payments"])]:  # fmt: skip
        filtered = await portal.get("/ui/services", params={"health": state})
        assert filtered.status_code == 200
        listed = rows_of(filtered, "services-table", "data-service") if expected else []
        assert listed == expected, state
        if not expected:
            assert 'id="services-empty"' in filtered.text
    # The API's graph carries the same health (the portal's drawing colours by it).
    graph = await client.get("/api/v1/service-graph", headers=shop.headers["viewer-a"])
    assert {n["slug"]: n["health"] for n in graph.json()["nodes"]} == health
    around = await client.get(f"{SERVICES}/orders/graph", headers=shop.headers["viewer-a"])
    assert [n["health"] for n in around.json()["nodes"]] == ["failing"]


async def test_the_slug_graph_is_reserved(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"slug": "graph", "name": "Graph", "team": "team-a"}
    response = await client.post(SERVICES, json=body, headers=tenant.headers["operator-a"])
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["slug"]


# --- tenancy --------------------------------------------------------------------------------


async def test_another_organisation_sees_none_of_it(
    app: FastAPI, signed_in_as: SignedIn, shop: Tenant
) -> None:
    await other_org_admin(app)
    async with app.state.runtime.sessions() as s, s.begin():
        await s.execute(
            update(User)
            .where(User.email == "boss@other.test")
            .values(password_hash=hash_password(PASSWORD))
        )
    boss = await signed_in_as("boss@other.test")
    for tab in ("versions", "health", "scorecard"):
        assert (await boss.get(f"/ui/services/orders/{tab}")).status_code == 404
    matrix = await boss.get("/ui/services/versions")
    assert 'data-service="orders"' not in matrix.text and 'id="matrix-empty"' in matrix.text
    report = await boss.get("/ui/scorecards")
    assert 'data-service="orders"' not in report.text
    token = csrf_of(matrix)
    deployed = await boss.post(
        "/ui/services/orders/deployments",
        data={"csrf_token": token, "environment": "dev", "version": "6.6.6"},
    )
    assert deployed.status_code == 404
    run = await boss.post("/ui/services/orders/checks/run", data={"csrf_token": token})
    assert run.status_code == 404
    assert await count(app, ServiceDeployment) == 3
    assert await count(app, ServiceCheckResult) == 1
