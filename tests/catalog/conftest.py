"""Catalog fixtures: a small catalog directory (or git repository) and an app serving it."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.catalog.sync import sync
from loom.platform.runtime import Runtime
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

POSTGRES = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: postgres
  name: PostgreSQL database
  description: A managed PostgreSQL database.
  category: databases
  version: 1.0.0
  tags: [sql, database]
spec:
  form:
    fields:
      - id: name
        type: string
        required: true
        pattern: "[a-z][a-z0-9_]{2,30}"
      - id: size
        type: enum
        options: [small, medium, large]
        default: small
  fulfillment:
    actions:
      - id: ticket
        type: jira-ticket
        config:
          project: DBA
          summary: "Create {{.current.name}} ({{.current.size}})"
        outputs: [ticket_key]
"""

NAMESPACE = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: namespace
  name: Kubernetes namespace
  category: kubernetes
  owner: payments
spec:
  form:
    fields:
      - id: name
        type: string
        required: true
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "https://k8s-api.internal.example/namespaces/{{.current.name}}"
"""

BUNDLE = """\
apiVersion: loom/v1
kind: CatalogBundle
metadata:
  id: web-service
  name: New web service
  category: bundles
spec:
  form:
    fields:
      - id: name
        type: string
        required: true
  components:
    - id: ns
      item: namespace
    - id: db
      item: postgres
      dependsOn: [ns]
"""

CODEOWNERS = "* @acme/platform\ncatalog/databases/ @acme/data\n"


def write_catalog(root: Path, files: dict[str, str | None]) -> Path:
    """Write (or, with None, delete) files under `root`."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@loom.test", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "catalog-repo",
        {
            "catalog/databases/postgres.yaml": POSTGRES,
            "catalog/kubernetes/namespace.yaml": NAMESPACE,
            "bundles/web-service.yaml": BUNDLE,
            "CODEOWNERS": CODEOWNERS,
        },
    )


@pytest.fixture
async def catalog_app(
    database_url: str, catalog_dir: Path, tmp_path: Path
) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url,
        catalog={
            "source": str(catalog_dir),
            "cache_dir": str(tmp_path / "cache"),
            "webhook_secret": "s3cret",
        },
    )
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def runtime(catalog_app: FastAPI) -> Runtime:
    rt: Runtime = catalog_app.state.runtime
    return rt


@pytest.fixture
async def synced(runtime: Runtime) -> Runtime:
    record = await sync(runtime, trigger="test")
    assert record.status == "ok", record.problems
    return runtime


@pytest.fixture
async def api(catalog_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(await token_for(catalog_app, ADMIN_EMAIL))
    transport = httpx.ASGITransport(app=catalog_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://loom.test", headers=headers
    ) as c:
        yield c
