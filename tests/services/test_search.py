"""Full-text search (`GET /api/v1/search`) over services, catalog entries and docs links:
ranking, stemming, prefixes, hostile input, kinds, tenancy, and an index that follows
every change of what it indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from loom.catalog.loader import load_directory
from loom.catalog.sync import apply
from loom.services import search_index
from loom.services.search import fts5_query, snippet_html
from loom.services.search_index import SearchDocument
from tests.catalog.conftest import NAMESPACE, POSTGRES, write_catalog
from tests.conftest import Tenant
from tests.services.support import SERVICES, other_org_admin, register

SEARCH = "/api/v1/search"

DOCUMENTED = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: kafka-topic
  name: Kafka topic
  description: A topic on the shared event bus.
  category: messaging
  tags: [events]
  links:
    - {title: Kafka handbook, url: "https://docs.test/kafka"}
spec:
  fulfillment:
    actions:
      - {id: create, type: rest-api, config: {url: "https://kafka.internal.example/topics"}}
"""


async def find(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(SEARCH, params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == q
    items: list[dict[str, Any]] = body["items"]
    return items


def ids(items: list[dict[str, Any]], kind: str = "service") -> list[str]:
    return [i["id"] for i in items if i["kind"] == kind]


async def catalog_synced(app: FastAPI, tenant: Tenant, root: Path, files: dict[str, Any]) -> None:
    """Apply a catalog directory the way a sync does (in one transaction)."""
    write_catalog(root, files)
    loaded = load_directory(root)
    assert not loaded.problems, loaded.problems
    async with app.state.runtime.sessions() as s, s.begin():
        await apply(s, tenant.org_id, loaded, commit=None)


async def test_title_match_ranks_above_body_match(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    op = tenant.headers["operator-a"]
    await register(client, op, "ledger", description="Writes every invoice to the ledger.")
    await register(client, op, "invoices", name="Invoice service", description="Bills.")
    found = await find(client, tenant.headers["viewer-b"], "invoice")
    assert ids(found) == ["invoices", "ledger"]
    assert found[0]["score"] > found[1]["score"]
    assert found[0]["url"] == "/ui/services/invoices"
    assert found[0]["title"] == "Invoice service"


async def test_words_match_stemmed_and_the_last_one_as_a_prefix(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    op = tenant.headers["operator-a"]
    await register(client, op, "shipper", description="Runs all the deployments of the fleet.")
    await register(client, op, "billing", description="Sends invoices.")
    viewer = tenant.headers["viewer-a"]
    assert ids(await find(client, viewer, "deploy")) == ["shipper"]
    assert ids(await find(client, viewer, "deployment")) == ["shipper"]
    assert ids(await find(client, viewer, "fleet depl")) == ["shipper"]  # as typed
    assert ids(await find(client, viewer, "deployments invoices")) == []  # every word counts
    assert ids(await find(client, viewer, "deplo ")) == []  # a finished word is no prefix


async def test_the_snippet_marks_matches_and_escapes_everything_else(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    evil = '<script>alert("x")</script> rotates the signing keys: 5 < 6 & "q" <b>'
    await register(client, tenant.headers["operator-a"], "vault", description=evil)
    [hit] = await find(client, tenant.headers["viewer-a"], "signing")
    assert "<mark>signing</mark>" in hit["snippet"]
    # PostgreSQL drops what looks like tags, SQLite keeps it: escaped, either way.
    assert "5 &lt; 6 &amp; &quot;q&quot;" in hit["snippet"]
    unmarked = hit["snippet"].replace("<mark>", "").replace("</mark>", "")
    assert "<" not in unmarked and ">" not in unmarked


HOSTILE = [
    '"', '""', "'", "a\"b", "NEAR(a b)", "a AND", "OR", "NOT x", "title:x", "^x", "x*",
    "*", "(", ")", "-", "- x", "a -", "!!!", "\\", "%_", "a:b:c", "{a b}", "\x00x", "é*",
    "x' OR '1'='1", "'; DROP TABLE services; --", "a & | ! <-> b", "::*", "🙂", " ",
]  # fmt: skip


async def test_no_input_breaks_the_query(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await register(client, tenant.headers["operator-a"], "orders", description="x and b")
    for q in HOSTILE:
        response = await client.get(SEARCH, params={"q": q}, headers=tenant.headers["viewer-a"])
        assert response.status_code == 200, (q, response.text)
        assert isinstance(response.json()["items"], list)


def test_user_text_becomes_quoted_fts5_strings() -> None:
    assert fts5_query('ship NEAR(x) "a') == '"ship" "NEAR" "x" "a"'
    assert fts5_query("deploy") == '("deploy"* OR "deplo"*)'
    assert fts5_query("fleet depl") == '"fleet" "depl"*'
    assert fts5_query("-*") is None
    assert snippet_html("<b>\ue000x\ue001</b>") == "&lt;b&gt;<mark>x</mark>&lt;/b&gt;"


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": ""}, "q"), ({"q": "x" * 201}, "q"), ({"q": "x", "kind": "team"}, "kind"),
     ({"q": "x", "limit": 0}, "limit"), ({"q": "x", "limit": 51}, "limit")],
)  # fmt: skip
async def test_bad_parameters_are_refused_naming_them(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any], field: str
) -> None:
    response = await client.get(SEARCH, params=params, headers=tenant.headers["viewer-a"])
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [f"query.{field}"]


async def test_search_needs_a_caller(client: httpx.AsyncClient) -> None:
    assert (await client.get(SEARCH, params={"q": "x"})).status_code == 401


async def test_kinds_filter_and_links_lead_to_their_own_url(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    await register(
        client, tenant.headers["operator-a"], "kafka-proxy", description="Fronts kafka.",
        links=[{"title": "Kafka dashboard", "url": "https://grafana.test/kafka", "kind": "dashboard"}],
    )  # fmt: skip
    await catalog_synced(app, tenant, tmp_path / "repo", {"catalog/kafka.yaml": DOCUMENTED})
    viewer = tenant.headers["viewer-b"]
    everything = await find(client, viewer, "kafka")
    assert {(i["kind"], i["id"]) for i in everything} == {
        ("service", "kafka-proxy"), ("link", "kafka-proxy"),
        ("catalog_item", "kafka-topic"), ("link", "kafka-topic"),
    }  # fmt: skip
    links = await find(client, viewer, "kafka", kind="link")
    assert {(i["title"], i["url"]) for i in links} == {
        ("Kafka dashboard", "https://grafana.test/kafka"),
        ("Kafka handbook", "https://docs.test/kafka"),
    }
    [item] = await find(client, viewer, "kafka", kind="catalog_item")
    assert (item["title"], item["url"]) == ("Kafka topic", "/ui/catalog/kafka-topic")
    assert len(await find(client, viewer, "kafka", limit=1)) == 1


async def test_another_organisation_finds_nothing_of_ours(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    await register(client, tenant.headers["operator-a"], "secret-sauce", description="Recipes.")
    await catalog_synced(app, tenant, tmp_path / "repo", {"catalog/kafka.yaml": DOCUMENTED})
    theirs = await other_org_admin(app)
    assert await find(client, theirs, "recipes") == []
    assert await find(client, theirs, "kafka") == []
    assert ids(await find(client, tenant.headers["viewer-b"], "recipes")) == ["secret-sauce"]


async def test_the_index_follows_create_change_and_delete(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    op, viewer = tenant.headers["operator-a"], tenant.headers["viewer-a"]
    await register(client, op, "orders", description="Takes orders.",
                   links=[{"title": "Orders runbook", "url": "https://wiki.test/orders"}])  # fmt: skip
    assert ids(await find(client, viewer, "orders runbook"), "link") == ["orders"]
    patched = await client.patch(
        f"{SERVICES}/orders", json={"description": "Handles refunds.", "links": []}, headers=op
    )
    assert patched.status_code == 200
    assert ids(await find(client, viewer, "refunds")) == ["orders"]
    assert await find(client, viewer, "takes") == []
    assert await find(client, viewer, "runbook") == []
    assert (await client.delete(f"{SERVICES}/orders", headers=op)).status_code == 204
    assert await find(client, viewer, "refunds") == []


async def test_a_refused_change_leaves_the_index_alone(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(client, tenant.headers["operator-a"], "orders", description="Takes orders.")
    refused = await client.patch(
        f"{SERVICES}/orders",
        json={"description": "Hijacked."},
        headers=tenant.headers["operator-b"],
    )
    assert refused.status_code == 403
    assert await find(client, tenant.headers["viewer-a"], "hijacked") == []
    assert ids(await find(client, tenant.headers["viewer-a"], "takes")) == ["orders"]


async def test_catalog_sync_updates_the_index(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    root, viewer = tmp_path / "repo", tenant.headers["viewer-a"]
    await catalog_synced(
        app, tenant, root, {"catalog/pg.yaml": POSTGRES, "catalog/ns.yaml": NAMESPACE}
    )
    assert ids(await find(client, viewer, "postgresql"), "catalog_item") == ["postgres"]
    assert ids(await find(client, viewer, "kubernetes"), "catalog_item") == ["namespace"]
    renamed = POSTGRES.replace("PostgreSQL database", "Relational store")
    await catalog_synced(app, tenant, root, {"catalog/pg.yaml": renamed, "catalog/ns.yaml": None})
    assert ids(await find(client, viewer, "relational"), "catalog_item") == ["postgres"]
    assert await find(client, viewer, "kubernetes") == []


async def test_rebuild_restores_a_lost_index_and_first_search_builds_one(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tmp_path: Path
) -> None:
    await register(client, tenant.headers["operator-a"], "orders", description="Takes orders.")
    await catalog_synced(app, tenant, tmp_path / "repo", {"catalog/kafka.yaml": DOCUMENTED})
    sessions = app.state.runtime.sessions

    async def count() -> int:
        async with sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(SearchDocument)) or 0)

    indexed = await count()
    assert indexed == 3  # the service, the catalog item and the item's link
    async with sessions() as s, s.begin():
        await s.execute(delete(SearchDocument))
        await search_index.rebuild(s, tenant.org_id)
    assert await count() == indexed
    assert ids(await find(client, tenant.headers["viewer-a"], "handbook"), "link") == [
        "kafka-topic"
    ]
    async with sessions() as s, s.begin():
        await s.execute(delete(SearchDocument))
    # Data from before the index: the organisation's first search indexes it.
    assert ids(await find(client, tenant.headers["viewer-a"], "takes")) == ["orders"]
    assert await count() == indexed
