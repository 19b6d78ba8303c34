"""Dependency graph queries: neighbourhoods by depth and direction, loops, the whole
system, and the upstream / downstream sets.

The graph: aa -> bb -> cc -> aa (a loop), cc -> dd, ee -> aa, and dd uses
postgres:orders-db.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from loom.services.graph import downstream, upstream
from tests.conftest import Tenant
from tests.services.support import depend, other_org_admin, register

CALLS = [("aa", "bb"), ("bb", "cc"), ("cc", "aa"), ("cc", "dd"), ("ee", "aa")]
DB = "postgres:orders-db"


@pytest.fixture
async def looped(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers["operator-a"]
    for slug in ("aa", "bb", "cc", "dd", "ee"):
        await register(client, headers, slug, tier=1 if slug == "aa" else 2)
    for source, target in CALLS:
        await depend(client, headers, source, target=target, kind="sync", criticality="high")
    await depend(client, headers, "dd", target_resource=DB, kind="data")


async def graph(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str, depth: int, direction: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/v1/services/{slug}/graph", params={"depth": depth, "direction": direction},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def nodes(body: dict[str, Any]) -> dict[str, int]:
    return {n["slug"]: n["distance"] for n in body["nodes"]}


def edges(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["source"], e["target"] or e["target_resource"]) for e in body["edges"]}


@pytest.mark.parametrize(
    ("slug", "depth", "direction", "want_nodes", "want_edges", "want_cycles"),
    [
        ("aa", 1, "down", {"aa": 0, "bb": 1}, {("aa", "bb")}, []),
        ("aa", 2, "down", {"aa": 0, "bb": 1, "cc": 2}, {("aa", "bb"), ("bb", "cc"), ("cc", "aa")},
         [["aa", "bb", "cc"]]),
        ("aa", 3, "down", {"aa": 0, "bb": 1, "cc": 2, "dd": 3},
         {("aa", "bb"), ("bb", "cc"), ("cc", "aa"), ("cc", "dd")}, [["aa", "bb", "cc"]]),
        ("aa", 4, "down", {"aa": 0, "bb": 1, "cc": 2, "dd": 3},
         {("aa", "bb"), ("bb", "cc"), ("cc", "aa"), ("cc", "dd"), ("dd", DB)}, [["aa", "bb", "cc"]]),
        ("aa", 1, "up", {"aa": 0, "cc": 1, "ee": 1}, {("cc", "aa"), ("ee", "aa")}, []),
        ("aa", 2, "up", {"aa": 0, "cc": 1, "ee": 1, "bb": 2},
         {("cc", "aa"), ("ee", "aa"), ("bb", "cc"), ("aa", "bb")}, [["aa", "bb", "cc"]]),
        ("aa", 1, "both", {"aa": 0, "bb": 1, "cc": 1, "ee": 1}, {("aa", "bb"), ("cc", "aa"), ("ee", "aa")},
         []),
        ("dd", 2, "both", {"dd": 0, "cc": 1, "bb": 2}, {("dd", DB), ("cc", "dd"), ("bb", "cc")}, []),
        ("ee", 10, "up", {"ee": 0}, set(), []),
        ("ee", 10, "down", {"ee": 0, "aa": 1, "bb": 2, "cc": 3, "dd": 4},
         {("ee", "aa"), ("aa", "bb"), ("bb", "cc"), ("cc", "aa"), ("cc", "dd"), ("dd", DB)},
         [["aa", "bb", "cc"]]),
    ],
)  # fmt: skip
async def test_neighbourhood_by_depth_and_direction(
    client: httpx.AsyncClient, tenant: Tenant, looped: None, slug: str, depth: int,
    direction: str, want_nodes: dict[str, int], want_edges: set[tuple[str, str]],
    want_cycles: list[list[str]],
) -> None:  # fmt: skip
    body = await graph(client, tenant.headers["viewer-b"], slug, depth, direction)
    assert nodes(body) == want_nodes
    assert edges(body) == want_edges
    assert body["cycles"] == want_cycles


async def test_nodes_and_edges_carry_what_a_picture_needs(
    client: httpx.AsyncClient, tenant: Tenant, looped: None
) -> None:
    body = await graph(client, tenant.headers["viewer-a"], "cc", 1, "down")
    assert body["nodes"][0] == {
        "slug": "cc", "name": "Cc", "tier": 2, "lifecycle": "experimental",
        "team_id": str(tenant.team_a), "team": "team-a", "distance": 0, "health": "unknown",
    }  # fmt: skip
    assert {(e["source"], e["target"], e["kind"], e["criticality"]) for e in body["edges"]} == {
        ("cc", "aa", "sync", "high"), ("cc", "dd", "sync", "high"),
    }  # fmt: skip


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"depth": 0}, 400, "depth"),
    ({"depth": 11}, 400, "depth"),
    ({"direction": "sideways"}, 400, "direction"),
])  # fmt: skip
async def test_bad_graph_parameters_name_the_field(
    client: httpx.AsyncClient, tenant: Tenant, looped: None, params: dict[str, Any],
    status: int, field: str,
) -> None:  # fmt: skip
    response = await client.get(
        "/api/v1/services/aa/graph", params=params, headers=tenant.headers["viewer-a"]
    )
    assert response.status_code == status
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


async def test_system_graph_and_other_organisations(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, looped: None
) -> None:
    response = await client.get("/api/v1/service-graph", headers=tenant.headers["viewer-b"])
    body = response.json()
    assert {n["slug"]: n["distance"] for n in body["nodes"]} == dict.fromkeys(
        ["aa", "bb", "cc", "dd", "ee"]
    )
    assert edges(body) == {*CALLS, ("dd", DB)}
    assert body["cycles"] == [["aa", "bb", "cc"]]
    theirs = await other_org_admin(app)
    hidden = await client.get("/api/v1/services/aa/graph", headers=theirs)
    assert hidden.status_code == 404


async def test_upstream_and_downstream_sets(
    session: AsyncSession, tenant: Tenant, looped: None
) -> None:
    org = tenant.org_id
    async with session.begin():
        assert await upstream(session, org, ["dd"], 1) == {"cc"}
        assert await upstream(session, org, ["dd"]) == {"aa", "bb", "cc", "ee"}
        assert await upstream(session, org, ["aa", "dd"], 1) == {"cc", "ee"}
        assert await downstream(session, org, ["ee"], 1) == {"aa"}
        assert await downstream(session, org, ["ee"]) == {"aa", "bb", "cc", "dd"}
        # The loop leads back to aa, but the services asked about are never in the answer.
        assert await downstream(session, org, ["aa"]) == {"bb", "cc", "dd"}
        assert await downstream(session, org, ["aa"], 0) == set()
        assert await downstream(session, org, ["nope"]) == set()
        # Another organisation's slugs reach nothing here.
        assert await downstream(session, tenant.team_a, ["aa"]) == set()
