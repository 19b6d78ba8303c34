"""Catalog API: search and filters, entries, forms, versions, input checks, refresh
rights, sync status, schema, and the validate/preview tools."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import Membership, Organization, Team, User
from loom.auth.roles import Role
from loom.platform.runtime import Runtime
from tests.catalog.conftest import POSTGRES, write_catalog
from tests.conftest import bearer, token_for


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


async def test_list_sorted_by_name_with_filters(synced: Runtime, api: httpx.AsyncClient) -> None:
    assert ids(await api.get("/api/v1/catalog")) == ["namespace", "web-service", "postgres"]
    assert ids(await api.get("/api/v1/catalog", params={"category": "Databases"})) == ["postgres"]
    assert ids(await api.get("/api/v1/catalog", params={"owner": "payments"})) == ["namespace"]
    assert ids(await api.get("/api/v1/catalog", params={"tag": "sql"})) == ["postgres"]
    assert ids(await api.get("/api/v1/catalog", params={"kind": "CatalogBundle"})) == [
        "web-service"
    ]
    assert ids(await api.get("/api/v1/catalog", params={"q": "managed postgresql"})) == ["postgres"]
    assert ids(await api.get("/api/v1/catalog", params={"q": "nothing-like-this"})) == []


async def test_list_pages_by_cursor(synced: Runtime, api: httpx.AsyncClient) -> None:
    first = (await api.get("/api/v1/catalog", params={"limit": 2})).json()
    second = (
        await api.get("/api/v1/catalog", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [
        "namespace", "web-service", "postgres"
    ]  # fmt: skip
    assert second["next_cursor"] is None


async def test_bad_kind_filter_names_the_field(synced: Runtime, api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/catalog", params={"kind": "Widget"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "query.kind"


async def test_entry_detail(synced: Runtime, api: httpx.AsyncClient) -> None:
    detail = (await api.get("/api/v1/catalog/postgres")).json()
    assert detail["owner"] == "data" and detail["version"] == "1.0.0"
    assert detail["source_file"] == "catalog/databases/postgres.yaml"
    assert detail["definition"]["spec"]["fulfillment"]["actions"][0]["type"] == "jira-ticket"
    missing = await api.get("/api/v1/catalog/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


async def test_form_and_json_schema(synced: Runtime, api: httpx.AsyncClient) -> None:
    form = (await api.get("/api/v1/catalog/postgres/form")).json()
    assert [f["path"] for f in form["fields"]] == ["name", "size"]
    assert form["fields"][1]["options"][0] == {"value": "small", "label": "small"}
    assert form["json_schema"]["required"] == ["name"]


async def test_validate_input_reports_fields(synced: Runtime, api: httpx.AsyncClient) -> None:
    bad = (
        await api.post(
            "/api/v1/catalog/postgres/validate-input", json={"name": "X", "size": "huge"}
        )
    ).json()
    assert bad["ok"] is False
    assert {e["field"] for e in bad["errors"]} == {"name", "size"}
    good = (
        await api.post("/api/v1/catalog/postgres/validate-input", json={"name": "orders"})
    ).json()
    assert good == {"ok": True, "values": {"name": "orders", "size": "small"}, "errors": []}


async def test_versions_listed_newest_first(
    synced: Runtime, api: httpx.AsyncClient, catalog_dir: Path
) -> None:
    write_catalog(
        catalog_dir,
        {"catalog/databases/postgres.yaml": POSTGRES.replace("version: 1.0.0", "version: 1.2.0")},
    )
    refreshed = await api.post("/api/v1/catalog/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["changed"] == 1
    versions = (await api.get("/api/v1/catalog/postgres/versions")).json()
    assert [v["version"] for v in versions] == ["1.2.0", "1.0.0"]


async def test_refresh_needs_an_operator(catalog_app: FastAPI, runtime: Runtime) -> None:
    async with runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(Organization.id))
        team = Team(org_id=org_id, slug="t", name="T")
        s.add(team)
        await s.flush()
        for email, role in (("v@loom.test", Role.VIEWER), ("o@loom.test", Role.OPERATOR)):
            user = User(org_id=org_id, email=email, name=email)
            s.add(user)
            await s.flush()
            s.add(Membership(user_id=user.id, team_id=team.id, role=role))
    transport = httpx.ASGITransport(app=catalog_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        viewer = await client.post(
            "/api/v1/catalog/refresh", headers=bearer(await token_for(catalog_app, "v@loom.test"))
        )
        operator = await client.post(
            "/api/v1/catalog/refresh", headers=bearer(await token_for(catalog_app, "o@loom.test"))
        )
        anonymous = await client.get("/api/v1/catalog")
    assert viewer.status_code == 403
    assert operator.status_code == 200 and operator.json()["status"] == "ok"
    assert anonymous.status_code == 401


async def test_sync_status_shows_problems(
    synced: Runtime, api: httpx.AsyncClient, catalog_dir: Path
) -> None:
    write_catalog(catalog_dir, {"catalog/databases/extra.yaml": "kind: [unclosed\n"})
    await api.post("/api/v1/catalog/refresh")
    status = (await api.get("/api/v1/catalog/sync-status")).json()
    assert status["last"]["status"] == "partial"
    assert status["last"]["problems"][0]["file"] == "catalog/databases/extra.yaml"
    assert status["last_successful"]["id"] == status["last"]["id"]
    assert len(status["recent"]) == 2


async def test_schema_covers_both_kinds(synced: Runtime, api: httpx.AsyncClient) -> None:
    schema = (await api.get("/api/v1/catalog/schema")).json()
    assert set(schema) == {"CatalogItem", "CatalogBundle"}
    assert "apiVersion" in schema["CatalogItem"]["properties"]


async def test_validate_tool_reports_problems_without_storing(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    broken = POSTGRES.replace("id: postgres", "id: pg-two").replace(
        "default: small", "default: huge"
    )
    result = (await api.post("/api/v1/tools/validate", json={"document": broken})).json()
    assert result["ok"] is False
    assert result["problems"][0]["text"].startswith(
        "catalog/posted.yaml:20 spec.form.fields[1].default"
    )
    ok = (
        await api.post(
            "/api/v1/tools/validate",
            json={"files": {"catalog/x.yaml": POSTGRES.replace("id: postgres", "id: pg-two")}},
        )
    ).json()
    assert ok == {"ok": True, "items": ["pg-two"], "bundles": [], "problems": []}
    assert "pg-two" not in ids(await api.get("/api/v1/catalog"))


async def test_validate_tool_knows_served_items(synced: Runtime, api: httpx.AsyncClient) -> None:
    bundle = """\
apiVersion: loom/v1
kind: CatalogBundle
metadata: {id: db-only, name: DB only, category: bundles}
spec:
  form: {fields: [{id: name, type: string, required: true}]}
  components: [{id: db, item: postgres}, {id: cache, item: redis}]
"""
    result = (
        await api.post("/api/v1/tools/validate", json={"files": {"bundles/b.yaml": bundle}})
    ).json()
    assert [p["message"] for p in result["problems"]] == ["unknown catalog item 'redis'"]


@pytest.mark.parametrize(
    "body",
    [{}, {"files": {"README.md": "# hi"}}, {"documents": "x"}],
    ids=["empty", "no-yaml", "typo"],
)
async def test_validate_tool_bad_bodies_are_422(
    synced: Runtime, api: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await api.post("/api/v1/tools/validate", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["details"]


async def test_preview_renders_a_posted_form(synced: Runtime, api: httpx.AsyncClient) -> None:
    result = (await api.post("/api/v1/tools/preview", json={"document": POSTGRES})).json()
    assert result["ok"] is True
    assert [f["id"] for f in result["form"]["fields"]] == ["name", "size"]


async def test_validate_tool_uses_the_given_filename(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    broken = POSTGRES.replace("id: postgres", "id: pg-two").replace(
        "default: small", "default: huge"
    )
    body = {"document": broken, "filename": "catalog/db/pg.yaml"}
    result = (await api.post("/api/v1/tools/validate", json=body)).json()
    assert result["problems"][0]["text"].startswith("catalog/db/pg.yaml:20 ")
    outside = await api.post("/api/v1/tools/validate", json={**body, "filename": "../etc/x.yaml"})
    assert outside.status_code == 422
    assert outside.json()["error"]["details"][0]["field"] == "filename"


async def test_test_variables_renders_against_sample_values(
    synced: Runtime, api: httpx.AsyncClient
) -> None:
    body = {
        "template": "db-{{ .current.name | upper }}-{{ .output.ticket_key }}",
        "variables": {"current": {"name": "orders"}},
    }
    result = (await api.post("/api/v1/tools/test-variables", json=body)).json()
    assert result["rendered"] == "db-ORDERS-"
    assert len(result["warnings"]) == 1 and "ticket_key" in result["warnings"][0]
    config = {"config": {"url": "https://x.example/{{ .current.name }}", "n": "{{ .current.n }}"},
              "variables": {"current": {"name": "a", "n": 3}}}  # fmt: skip
    rendered = (await api.post("/api/v1/tools/test-variables", json=config)).json()["rendered"]
    assert rendered == {"url": "https://x.example/a", "n": 3}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"template": "{{ .current.__class__ }}"}, "template"),
        ({"template": "{{ .current.x", "variables": {}}, "template"),
        ({"template": "x", "variables": {"nope": {}}}, "variables"),
        ({}, "template"),
    ],
    ids=["sandbox-escape", "syntax", "unknown-namespace", "neither"],
)
async def test_test_variables_refuses_bad_templates(
    synced: Runtime, api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await api.post("/api/v1/tools/test-variables", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field
