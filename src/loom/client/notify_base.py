"""What every part of `client.notify` shares: the HTTP core, and finding a resource by
its name where the API only takes ids (names are unique in an organisation)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic_core import to_jsonable_python

from loom.client.base import HttpCore
from loom.client.errors import ApiError
from loom.client.notify_models import Named


class NotifyBase:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def _ref(self, path: str, ref: str, what: str) -> str:
        """The id of the resource listed at `path` named `ref` (or `ref` itself when it
        is an id); a 404 `ApiError` when there is none."""
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        for found in self._core.get_list(path, Named):
            if found.name == ref:
                return str(found.id)
        raise ApiError(404, "NOT_FOUND", f"no {what} named '{ref}'")


def body(**fields: Any) -> dict[str, Any]:
    """A JSON request body of the fields given, without those left None (the server's
    defaults apply); datetimes and dates as ISO strings."""
    data: dict[str, Any] = to_jsonable_python({k: v for k, v in fields.items() if v is not None})
    return data
