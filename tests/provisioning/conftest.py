"""Provisioning fixtures: the catalog app of tests/catalog, synced, plus helpers."""

from __future__ import annotations

from tests.catalog.conftest import api, catalog_app, catalog_dir, runtime, synced  # noqa: F401
