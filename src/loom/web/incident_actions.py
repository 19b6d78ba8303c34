"""The operators' actions on an incident's page: status changes, hold open, merge,
comments and verdicts on related changes. Each form posts here and calls the function
the API calls, so permissions, validation, the audit entry and the timeline event are
the same."""

from __future__ import annotations

from loom.web.routing import page_router

router = page_router()
