"""The demo's service registry: after start and the sample catalog's sync, a believable
system (the sample services and their dependencies, three environments, a month of
deployments with drift of both kinds) and health checks on the demo target that come
out green, degraded, failing and flaky once run. Seeding again adds nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from loom.catalog.sync import catalog_org
from loom.demo import registry, seed_registry_after, target
from loom.services.check_models import ServiceCheck
from loom.services.models import ServiceDeployment
from tests.demo.conftest import Demo


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


async def _counts(demo: Demo) -> tuple[int, int]:
    async with demo.runtime.sessions() as session:
        deployments = await session.scalar(select(func.count()).select_from(ServiceDeployment))
        checks = await session.scalar(select(func.count()).select_from(ServiceCheck))
    return int(deployments or 0), int(checks or 0)


async def test_the_sample_system_is_in_the_registry(demo: Demo) -> None:
    listed = await _get(demo.admin, "/services?limit=100")
    slugs = {s["slug"] for s in listed["items"]}
    assert len(slugs) >= 12
    assert set(registry.SAMPLES) <= slugs
    graph = await _get(demo.admin, "/services/orders/graph?depth=1")
    assert graph["cycles"], graph  # orders ↔ inventory
    environments = await _get(demo.admin, "/environments")
    assert [e["slug"] for e in environments["items"]] == ["dev", "staging", "production"]


async def test_every_sample_service_was_deployed_everywhere_with_drift_of_both_kinds(
    demo: Demo,
) -> None:
    matrix = await _get(demo.admin, "/services/versions")
    rows = {row["service"]: row for row in matrix["items"]}
    for slug in registry.SAMPLES:
        versions = rows[slug]["versions"]
        assert all(versions[env] for env in ("dev", "staging", "production")), slug
        assert versions["production"]["deployed_by"].endswith("@loom.local")
        assert len(versions["production"]["commit_sha"]) == 40
    history = await _get(demo.admin, "/services/cart/deployments?limit=100")
    assert len(history["items"]) >= 9  # a few releases, each to three environments
    oldest = min(datetime.fromisoformat(d["deployed_at"]) for d in history["items"])
    newest = max(datetime.fromisoformat(d["deployed_at"]) for d in history["items"])
    assert (newest - oldest).days >= 20

    drift = await _get(demo.admin, "/services/drift")
    found = {(f["service"], f["environment"], f["kind"]) for f in drift["items"]}
    assert found == {
        ("payments-api", "production", "behind"),
        ("orders", "production", "unseen_version"),
    }
    payments = rows["payments-api"]["versions"]
    assert payments["production"]["version"] != payments["staging"]["version"]
    orders = rows["orders"]["versions"]
    assert orders["production"]["version"].endswith(".1")  # the hot-fix


async def _run(demo: Demo, slug: str) -> dict[str, Any]:
    response = await demo.admin.post(f"/api/v1/services/{slug}/checks/run")
    assert response.status_code == 200, response.text
    (check,) = response.json()
    assert check["latency_threshold_ms"] == registry.LATENCY_THRESHOLD_MS
    assert check["url"].startswith(demo.runtime.extras[target.EXTRAS_KEY].url)
    return dict(check)


async def test_the_checks_show_green_degraded_failing_and_flaky(demo: Demo) -> None:
    for slug in ("api-gateway", "checkout-web", "payments-api", "orders", "auth"):
        assert (await _run(demo, slug))["status"] == "passing", slug
    slow = await _run(demo, "fraud-check")
    assert slow["status"] == "degraded", slow["last_result"]
    broken = await _run(demo, "recommendations")
    assert broken["status"] == "failing"
    assert broken["last_result"]["status_code"] == 503
    flaky = await _run(demo, "search-api")
    failing_minute = datetime.fromisoformat(flaky["last_result"]["started_at"]).minute % 3 == 0
    assert flaky["status"] == ("failing" if failing_minute else "passing")
    health = await _get(demo.admin, "/services/recommendations/health")
    assert health["status"] == "failing"
    unchecked = await _get(demo.admin, "/services/legacy-reports/checks")
    assert unchecked["items"] == []


async def test_seeding_again_adds_nothing(demo: Demo) -> None:
    before = await _counts(demo)
    assert before[0] > 100 and before[1] == len(registry.CHECKS)
    await registry.seed(demo.runtime)
    assert await _counts(demo) == before


async def test_checks_follow_the_target_to_another_port(demo: Demo) -> None:
    async with demo.runtime.sessions() as session, session.begin():
        org_id = await catalog_org(session, demo.runtime)
        moved = await registry.seed_services(session, org_id, "http://127.0.0.1:1")
    assert moved == {"deployments": 0, "checks": 0}
    check = (await _get(demo.admin, "/services/auth/checks"))["items"][0]
    assert check["url"] == "http://127.0.0.1:1/healthy"


async def test_make_serve_seeds_once_its_initial_sync_is_done(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = asyncio.Event()
    calls: list[str] = []

    async def initial_sync() -> None:
        await synced.wait()
        calls.append("sync")

    original = registry.seed

    async def seed(runtime: Any) -> None:
        calls.append("seed")
        await original(runtime)

    monkeypatch.setattr(registry, "seed", seed)
    task = seed_registry_after(demo.runtime, asyncio.create_task(initial_sync()))
    assert task is not None
    await asyncio.sleep(0.05)
    assert calls == []
    synced.set()
    await task
    assert calls == ["sync", "seed"]
