"""Provisioning fixtures: the catalog app of tests/catalog, synced, plus helpers; the
app of the waiting-task tests (tests/provisioning/waits_support.py); and the app of the
escalation tests (tests/provisioning/escalation_support.py)."""

from __future__ import annotations

from tests.catalog.conftest import api, catalog_app, catalog_dir, runtime, synced  # noqa: F401
from tests.provisioning.escalation_support import (  # noqa: F401
    escalation_api,
    escalation_app,
    jira,
    jira_version,
)
from tests.provisioning.waits_support import (  # noqa: F401
    loom_api,
    notify_server,
    waiter,
    waits_app,
)
