"""Where the portal's request, approval and queue pages live (one place, so modules that link to
them need not import each other)."""

from __future__ import annotations

import uuid

REQUESTS = "/ui/requests"
APPROVALS = "/ui/approvals"
QUEUE = "/ui/admin/queue"


def request_path(request_id: uuid.UUID | str) -> str:
    return f"{REQUESTS}/{request_id}"
