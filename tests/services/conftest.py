"""Service registry fixtures: a catalog repository directory the app syncs from, empty
until a test writes documents into it (no sync on start)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from loom.catalog.models import CatalogSync
from loom.catalog.sync import sync
from loom.settings import Settings
from tests.catalog.conftest import write_catalog
from tests.conftest import make_settings


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog-repo", {"CODEOWNERS": "* @acme/team-a\n"})


@pytest.fixture
def settings(database_url: str, repo: Path, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        catalog={"source": str(repo), "cache_dir": str(tmp_path / "cache"), "sync_on_start": False},
    )


async def sync_repo(app: FastAPI, repo: Path, files: dict[str, str | None]) -> CatalogSync:
    """Write (None: delete) files in the catalog repository, then sync it."""
    write_catalog(repo, files)
    return await sync(app.state.runtime, trigger="test")
