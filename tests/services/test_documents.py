"""`kind: Service` documents synced from the catalog repository: they create or take over
services and mark them managed, their dependencies replace the service's, a removed one
lets go of its service, a bad one is reported at its file and line while the rest apply,
and another organisation is never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant
from tests.services.conftest import sync_repo
from tests.services.support import SERVICES, other_org_admin, register


def service_doc(slug: str, *, owner: str | None = None, spec: str = "", desc: str = "") -> str:
    owner_line = f"  owner: {owner}\n" if owner else ""
    return (
        "apiVersion: loom/v1\nkind: Service\nmetadata:\n"
        f"  id: {slug}\n  name: {slug.title()}\n{owner_line}"
        f"  description: {desc or 'The ' + slug + ' service.'}\n"
        f"spec:\n  lifecycle: production\n{spec}"
    )


GATEWAY_SPEC = """\
  tier: 1
  system: shop
  repositoryUrl: https://github.com/acme/gateway
  links:
    - {title: Runbook, url: "https://wiki.test/gateway", kind: runbook}
  dependsOn:
    - {service: zeta-ledger, kind: sync, criticality: high}
    - {resource: "postgres:gateway-db", kind: data, criticality: high}
  metadata: {pager: gateway}
"""


async def get(client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> dict[str, Any]:
    response = await client.get(f"{SERVICES}/{slug}", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def deps(
    client: httpx.AsyncClient, headers: dict[str, str], slug: str
) -> set[tuple[Any, ...]]:
    response = await client.get(f"{SERVICES}/{slug}/dependencies", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (d["target"], d["target_resource"], d["kind"], d["criticality"])
        for d in response.json()["items"]
    }


async def test_documents_become_managed_services_whatever_the_file_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    repo: Path,
    admin_headers: dict[str, str],
) -> None:
    # a-gateway.yaml is read before the service it depends on (zeta-ledger.yaml).
    record = await sync_repo(app, repo, {
        "services/a-gateway.yaml": service_doc("gateway", spec=GATEWAY_SPEC),
        "services/zeta-ledger.yaml": service_doc("zeta-ledger", owner="team-b"),
    })  # fmt: skip
    assert record.status == "ok", record.problems
    headers = tenant.headers["viewer-a"]
    gateway = await get(client, headers, "gateway")
    assert gateway["managed"] is True
    assert gateway["team_id"] == str(tenant.team_a)  # from CODEOWNERS
    assert (gateway["tier"], gateway["lifecycle"], gateway["system"]) == (1, "production", "shop")
    assert gateway["repository_url"] == "https://github.com/acme/gateway"
    assert gateway["links"][0]["kind"] == "runbook"
    assert gateway["metadata"] == {"pager": "gateway"}
    ledger = await get(client, headers, "zeta-ledger")
    assert ledger["team_id"] == str(tenant.team_b)  # metadata.owner wins over CODEOWNERS
    assert await deps(client, headers, "gateway") == {
        ("zeta-ledger", None, "sync", "high"),
        (None, "postgres:gateway-db", "data", "high"),
    }
    audit = await client.get(
        "/api/v1/audit", params={"action": "service.create"}, headers=admin_headers
    )
    assert {e["actor_name"] for e in audit.json()["items"]} == {"catalog-test"}
    assert {e["target_id"] for e in audit.json()["items"]} == {gateway["id"], ledger["id"]}


async def test_managed_service_refuses_hand_edits(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {"services/gateway.yaml": service_doc("gateway")})
    headers = tenant.headers["admin-a"]
    patched = await client.patch(f"{SERVICES}/gateway", json={"tier": 2}, headers=headers)
    assert patched.status_code == 409
    added = await client.post(
        f"{SERVICES}/gateway/dependencies", json={"target_resource": "redis:x"}, headers=headers
    )
    assert added.status_code == 409
    assert (await client.delete(f"{SERVICES}/gateway", headers=headers)).status_code == 409


async def test_document_takes_over_a_hand_registered_service(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await register(client, tenant.headers["operator-b"], "gateway", team="team-b",
                   description="typed by hand", tier=3, tags=["old"])  # fmt: skip
    await register(client, tenant.headers["operator-b"], "cache", team="team-b")
    response = await client.post(
        f"{SERVICES}/gateway/dependencies", json={"target": "cache"},
        headers=tenant.headers["operator-b"],
    )  # fmt: skip
    assert response.status_code == 201
    record = await sync_repo(app, repo, {
        "services/gateway.yaml": service_doc("gateway", desc="from git", spec="  tier: 1\n"),
    })  # fmt: skip
    assert record.status == "ok", record.problems
    gateway = await get(client, tenant.headers["viewer-a"], "gateway")
    assert gateway["managed"] is True
    assert gateway["team_id"] == str(tenant.team_a)
    assert (gateway["description"], gateway["tier"], gateway["tags"]) == ("from git", 1, [])
    # The document lists no dependencies: the hand-made one is gone.
    assert await deps(client, tenant.headers["viewer-a"], "gateway") == set()


async def test_dependencies_follow_the_document(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {
        "services/a-gateway.yaml": service_doc("gateway", spec=GATEWAY_SPEC),
        "services/zeta-ledger.yaml": service_doc("zeta-ledger"),
    })  # fmt: skip
    changed = """\
  dependsOn:
    - {service: zeta-ledger, kind: async, criticality: low}
    - {resource: "redis:gateway-cache", kind: data}
"""
    record = await sync_repo(
        app, repo, {"services/a-gateway.yaml": service_doc("gateway", spec=changed)}
    )
    assert record.status == "ok", record.problems
    assert await deps(client, tenant.headers["viewer-a"], "gateway") == {
        ("zeta-ledger", None, "async", "low"),
        (None, "redis:gateway-cache", "data", "medium"),
    }


async def test_removed_document_leaves_the_service_unmanaged(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {
        "services/a-gateway.yaml": service_doc("gateway", spec=GATEWAY_SPEC),
        "services/zeta-ledger.yaml": service_doc("zeta-ledger"),
    })  # fmt: skip
    record = await sync_repo(app, repo, {"services/a-gateway.yaml": None})
    assert record.status == "ok", record.problems
    headers = tenant.headers["operator-a"]
    gateway = await get(client, headers, "gateway")
    assert gateway["managed"] is False
    assert len(await deps(client, headers, "gateway")) == 2  # kept, with its history
    assert (await get(client, headers, "zeta-ledger"))["managed"] is True
    patched = await client.patch(f"{SERVICES}/gateway", json={"tier": 2}, headers=headers)
    assert patched.status_code == 200


async def test_bad_documents_are_reported_at_file_line_and_field_and_the_rest_apply(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {"services/kept.yaml": service_doc("kept", spec="  tier: 2\n")})
    record = await sync_repo(app, repo, {
        "services/good.yaml": service_doc(
            "good", spec="  dependsOn:\n    - {service: nowhere}\n    - {resource: 'x:y'}\n"
        ),
        "services/kept.yaml": service_doc("kept", spec="  tier: 7\n"),
        "services/orphan.yaml": service_doc("orphan", owner="no-such-team"),
        "services/self.yaml": service_doc("selfish", spec="  dependsOn:\n    - {service: selfish}\n"),
    })  # fmt: skip
    assert record.status == "partial"
    problems = {p["text"].split(": ", 1)[0] for p in record.problems}
    assert problems == {
        "services/good.yaml:10 spec.dependsOn[0].service",
        "services/kept.yaml:9 spec.tier",
        "services/orphan.yaml:6 metadata.owner",
        "services/self.yaml:10 spec.dependsOn[0].service",
    }, record.problems
    headers = tenant.headers["viewer-a"]
    assert await deps(client, headers, "good") == {(None, "x:y", "sync", "medium")}
    kept = await get(client, headers, "kept")  # invalid now: its last good state stays
    assert (kept["tier"], kept["managed"]) == (2, True)
    for slug in ("orphan", "selfish"):
        response = await client.get(f"{SERVICES}/{slug}", headers=headers)
        assert response.status_code == 404


async def test_sync_touches_only_the_catalog_organisation(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    theirs = await other_org_admin(app)
    await register(client, theirs, "gateway", team="team-a", description="theirs")
    record = await sync_repo(app, repo, {"services/gateway.yaml": service_doc("gateway")})
    assert record.status == "ok", record.problems
    their_gateway = await get(client, theirs, "gateway")
    assert (their_gateway["managed"], their_gateway["description"]) == (False, "theirs")
    ours = await get(client, tenant.headers["viewer-a"], "gateway")
    assert ours["managed"] is True
    assert ours["id"] != their_gateway["id"]


async def test_unreadable_file_lets_go_of_no_service(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    await sync_repo(app, repo, {"services/gateway.yaml": service_doc("gateway")})
    record = await sync_repo(app, repo, {"services/gateway.yaml": "metadata: [unclosed\n"})
    assert record.status == "partial"
    assert [p["file"] for p in record.problems] == ["services/gateway.yaml"]
    assert (await get(client, tenant.headers["viewer-a"], "gateway"))["managed"] is True


async def test_synced_services_are_found_by_search(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, repo: Path
) -> None:
    headers = tenant.headers["operator-a"]
    # Something indexed already, so the search does not rebuild its index on first use.
    await register(client, headers, "billing", description="Invoices.")
    assert (await client.get("/api/v1/search", params={"q": "invoices"}, headers=headers)).json()

    async def found(words: str) -> list[str]:
        response = await client.get("/api/v1/search", params={"q": words}, headers=headers)
        assert response.status_code == 200, response.text
        return [hit["id"] for hit in response.json()["items"] if hit["kind"] == "service"]

    await sync_repo(
        app, repo, {"services/gateway.yaml": service_doc("gateway", desc="Edge router.")}
    )
    assert await found("edge router") == ["gateway"]
    await sync_repo(
        app, repo, {"services/gateway.yaml": service_doc("gateway", desc="Front door.")}
    )
    assert await found("front door") == ["gateway"]
    assert await found("edge router") == []
