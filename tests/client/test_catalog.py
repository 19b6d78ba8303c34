"""`LoomClient.catalog` against a live server serving a small catalog."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from loom.catalog.documents import json_schemas
from loom.client import ApiError, LoomClient
from loom.client.catalog import CatalogDetail, CatalogFilter
from loom.settings import Settings
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog
from tests.client.conftest import mint_token
from tests.conftest import LiveServer, make_settings

pytestmark = pytest.mark.sqlite_only

FILES: dict[str, str | None] = {
    "catalog/databases/postgres.yaml": POSTGRES,
    "catalog/kubernetes/namespace.yaml": NAMESPACE,
    "bundles/web-service.yaml": BUNDLE,
    "CODEOWNERS": CODEOWNERS,
}


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog-repo", FILES)


@pytest.fixture
def settings(database_url: str, catalog_dir: Path, tmp_path: Path) -> Settings:
    """The live server serves `catalog_dir` (overrides tests.conftest's `settings`)."""
    catalog = {"source": str(catalog_dir), "cache_dir": str(tmp_path / "cache")}
    return make_settings(database_url, catalog=catalog)


@pytest.fixture
def synced(admin: LoomClient) -> LoomClient:
    record = admin.catalog.refresh()
    assert record.status == "ok", record.problems
    return admin


def test_refresh_and_sync_status(admin: LoomClient, catalog_dir: Path) -> None:
    record = admin.catalog.refresh()
    assert (record.status, record.trigger, record.source) == ("ok", "refresh", str(catalog_dir))
    assert (record.items, record.bundles, record.changed) == (2, 1, 3)
    assert record.problems == [] and record.error is None and not record.failed

    state = admin.catalog.sync_status()
    assert state.source == str(catalog_dir)
    assert state.last is not None and state.last.id == record.id
    assert state.last_successful is not None and state.last_successful.id == record.id
    assert [r.id for r in state.recent][:1] == [record.id]


def test_a_failed_sync_is_an_answer(synced: LoomClient, catalog_dir: Path) -> None:
    catalog_dir.rename(catalog_dir.with_name("gone"))
    record = synced.catalog.refresh()
    assert record.failed and record.error
    state = synced.catalog.sync_status()
    assert state.last is not None and state.last.status == "failed"
    assert state.last_successful is not None and state.last_successful.status == "ok"


def test_list_filters_pages_and_iterates(synced: LoomClient) -> None:
    def ids(**where: str) -> list[str]:
        return [e.id for e in synced.catalog.list(CatalogFilter(**where)).items]  # type: ignore[arg-type]

    assert ids() == ["namespace", "web-service", "postgres"]
    assert ids(kind="CatalogBundle") == ["web-service"]
    assert ids(category="databases") == ["postgres"]
    assert ids(owner="payments") == ["namespace"]
    assert ids(tag="sql") == ["postgres"]
    assert ids(q="kubernetes namespace") == ["namespace"]

    page = synced.catalog.list(limit=2)
    assert [e.id for e in page.items] == ["namespace", "web-service"] and page.next_cursor
    rest = synced.catalog.list(limit=2, cursor=page.next_cursor)
    assert [e.id for e in rest.items] == ["postgres"] and rest.next_cursor is None
    assert [e.id for e in synced.catalog.iter(page_size=1)] == [
        "namespace",
        "web-service",
        "postgres",
    ]
    assert len(list(synced.catalog.iter(page_size=1, max_items=2))) == 2

    summary = synced.catalog.list(CatalogFilter(category="databases")).items[0]
    assert (summary.kind, summary.version, summary.owner) == ("CatalogItem", "1.0.0", "data")
    assert summary.tags == ["sql", "database"] and summary.stale is False


def test_get_form_versions(synced: LoomClient, catalog_dir: Path) -> None:
    entry = synced.catalog.get("postgres")
    assert entry.name == "PostgreSQL database" and entry.owner == "data"
    assert entry.source_file == "catalog/databases/postgres.yaml"
    assert entry.definition["spec"]["fulfillment"]["actions"][0]["type"] == "jira-ticket"

    form = synced.catalog.form("postgres")
    assert [f["id"] for f in form.fields] == ["name", "size"]
    assert form.fields[1]["default"] == "small"
    assert form.json_schema["required"] == ["name"]
    bundle_form = synced.catalog.form("web-service")
    assert bundle_form.kind == "CatalogBundle"

    write_catalog(
        catalog_dir, {"catalog/databases/postgres.yaml": POSTGRES.replace("1.0.0", "2.0.0")}
    )
    assert synced.catalog.refresh().changed == 1
    assert [v.version for v in synced.catalog.versions("postgres")] == ["2.0.0", "1.0.0"]

    with pytest.raises(ApiError) as caught:
        synced.catalog.get("no-such-item")
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")


def test_validate_input(synced: LoomClient) -> None:
    ok = synced.catalog.validate_input("postgres", {"name": "orders"})
    assert ok.ok and ok.values == {"name": "orders", "size": "small"} and ok.errors == []

    bad = synced.catalog.validate_input("postgres", {"name": "X", "size": "huge"})
    assert not bad.ok
    assert {e.field for e in bad.errors} == {"name", "size"}
    assert next(e.issue for e in bad.errors if e.field == "size").startswith("must be one of")


def test_schema_validate_and_preview(synced: LoomClient) -> None:
    assert synced.catalog.schema() == json_schemas()

    result = synced.catalog.validate(document=POSTGRES.replace("version: 1.0.0", "version: 1.1.0"))
    assert result.ok and result.items == ["postgres"] and result.problems == []

    broken = {"catalog/ns.yaml": NAMESPACE.replace("required:", "requird:")}
    result = synced.catalog.validate(broken)
    assert not result.ok
    assert [p.text for p in result.problems] == [
        "catalog/ns.yaml:13 spec.form.fields[0].requird: unknown field"
    ]
    # the posted bundle may refer to items of the served catalog
    assert synced.catalog.validate({"bundles/b.yaml": BUNDLE}).bundles == ["web-service"]

    preview = synced.catalog.preview(POSTGRES)
    assert preview.ok and preview.form is not None
    assert [f["id"] for f in preview.form.fields] == ["name", "size"]
    failed = synced.catalog.preview(files=broken)
    assert not failed.ok and failed.form is None and failed.problems[0].line == 13

    with pytest.raises(ValueError):
        synced.catalog.validate()


def test_refresh_needs_an_operator(synced: LoomClient, live_server: LiveServer) -> None:
    synced.identity.create_user("viewer@loom.test", password="viewer-password-1")
    token = mint_token(live_server.url, "viewer@loom.test", "viewer-password-1")
    with LoomClient(live_server.url, token) as viewer:
        assert [e.id for e in viewer.catalog.iter()] == ["namespace", "web-service", "postgres"]
        with pytest.raises(ApiError) as caught:
            viewer.catalog.refresh()
    assert caught.value.status == 403


def test_unknown_fields_are_kept_and_ids_are_escaped() -> None:
    seen: list[str] = []
    body = {
        "id": "a/b",
        "kind": "CatalogItem",
        "name": "A",
        "category": "c",
        "version": "1",
        "updated_at": "2024-01-01T00:00:00Z",
        "source_file": "catalog/a.yaml",
        "synced_at": "2024-01-01T00:00:00Z",
        "definition": {},
        "added_later": {"x": 1},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json=body)

    with LoomClient("http://loom.test", "t", transport=httpx.MockTransport(handler)) as client:
        entry = client.catalog.get("a/b")
    assert seen == ["/api/v1/catalog/a%2Fb"]
    assert isinstance(entry, CatalogDetail)
    assert json.loads(entry.model_dump_json())["added_later"] == {"x": 1}
