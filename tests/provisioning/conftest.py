"""Provisioning fixtures: the catalog app of tests/catalog, synced, plus helpers; and
the app of the waiting-task tests (tests/provisioning/waits_support.py)."""

from __future__ import annotations

from tests.catalog.conftest import api, catalog_app, catalog_dir, runtime, synced  # noqa: F401
from tests.provisioning.waits_support import (  # noqa: F401
    loom_api,
    notify_server,
    waiter,
    waits_app,
)
