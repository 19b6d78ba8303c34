"""The catalog: search and read entries, their forms and versions, check form input, sync
the catalog from its repository, and validate or preview documents before committing them.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from loom.client.base import HttpCore, parse_as
from loom.client.models import ApiModel
from loom.client.pagination import Page, iterate

Kind = Literal["CatalogItem", "CatalogBundle"]


class CatalogSummary(ApiModel):
    id: str
    kind: str
    name: str
    description: str = ""
    category: str
    version: str
    owner: str | None = None
    tags: list[str] = []
    #: The newest sync found it invalid: this is its last good version.
    stale: bool = False
    commit: str | None = None
    updated_at: datetime


class CatalogDetail(CatalogSummary):
    links: list[dict[str, str]] = []
    custom: dict[str, Any] = {}
    source_file: str
    synced_at: datetime
    #: The whole document as its YAML says it (camelCase keys, defaults left out).
    definition: dict[str, Any]


class CatalogForm(ApiModel):
    """A form resolved for rendering: `fields` (nested for groups, each with its dotted
    `path`, defaults, options and conditions) and a JSON Schema of valid input."""

    id: str
    kind: str
    name: str
    version: str
    fields: list[dict[str, Any]]
    json_schema: dict[str, Any]


class CatalogVersion(ApiModel):
    version: str
    digest: str
    commit_sha: str | None = None
    source_file: str
    created_at: datetime


class CatalogProblem(ApiModel):
    """One problem of a document; `text` is `file:line path: message`."""

    file: str
    line: int
    path: str
    message: str
    document_id: str | None = None
    text: str


class SyncRecord(ApiModel):
    id: uuid.UUID
    trigger: str
    source: str
    #: ok, partial (some documents skipped: see problems) or failed (see error).
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    commit_sha: str | None = None
    items: int = 0
    bundles: int = 0
    changed: int = 0
    problems: list[CatalogProblem] = []
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class SyncStatus(ApiModel):
    source: str
    branch: str
    last: SyncRecord | None = None
    last_successful: SyncRecord | None = None
    recent: list[SyncRecord] = []


class ValidateResult(ApiModel):
    ok: bool
    items: list[str]
    bundles: list[str]
    problems: list[CatalogProblem]


class PreviewResult(ApiModel):
    ok: bool
    problems: list[CatalogProblem]
    form: CatalogForm | None = None


class InputError(ApiModel):
    field: str
    issue: str


class InputCheck(ApiModel):
    """The server's check of form values; secret values are not echoed in `values`."""

    ok: bool
    values: dict[str, Any]
    errors: list[InputError]


class CatalogFilter(BaseModel):
    """The filters `GET /catalog` accepts; `q` is words to find in id, name, description,
    category and tags (all of them)."""

    kind: Kind | None = None
    category: str | None = None
    owner: str | None = None
    tag: str | None = None
    q: str | None = None


def _entry(entry_id: str) -> str:
    return f"/catalog/{quote(entry_id, safe='')}"


class CatalogApi:
    def __init__(self, core: HttpCore) -> None:
        self._core = core

    def list(
        self,
        where: CatalogFilter | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[CatalogSummary]:
        """One page of items and bundles, by name."""
        params: dict[str, Any] = (where or CatalogFilter()).model_dump(exclude_none=True)
        params.update(limit=limit, cursor=cursor)
        return self._core.get("/catalog", Page[CatalogSummary], params=params)

    def iter(
        self,
        where: CatalogFilter | None = None,
        *,
        page_size: int = 100,
        max_items: int | None = None,
    ) -> Iterator[CatalogSummary]:
        """Every matching entry, by name, fetching pages as they are consumed."""
        return iterate(
            lambda cursor: self.list(where, limit=page_size, cursor=cursor), max_items=max_items
        )

    def get(self, entry_id: str) -> CatalogDetail:
        """An item or bundle with its whole definition."""
        return self._core.get(_entry(entry_id), CatalogDetail)

    def form(self, entry_id: str) -> CatalogForm:
        return self._core.get(f"{_entry(entry_id)}/form", CatalogForm)

    def versions(self, entry_id: str) -> builtins.list[CatalogVersion]:
        """The last stored versions of an entry, newest first."""
        response = self._core.request("GET", f"{_entry(entry_id)}/versions")
        return parse_as(response, builtins.list[CatalogVersion])

    def validate_input(self, entry_id: str, data: Mapping[str, Any]) -> InputCheck:
        """Check form values without submitting anything (an invalid input is an answer
        with `ok` false and its `errors`, not an exception)."""
        return self._core.post(f"{_entry(entry_id)}/validate-input", InputCheck, json=dict(data))

    def refresh(self) -> SyncRecord:
        """Sync the catalog from its repository now (operators and admins); a failed sync
        is an answer with status `failed`, not an exception."""
        return self._core.post("/catalog/refresh", SyncRecord)

    def sync_status(self) -> SyncStatus:
        return self._core.get("/catalog/sync-status", SyncStatus)

    def schema(self) -> dict[str, Any]:
        """The JSON Schemas of both document kinds: `{"CatalogItem": ..., "CatalogBundle": ...}`."""
        return parse_as(self._core.request("GET", "/catalog/schema"), dict[str, Any])

    def validate(
        self, files: Mapping[str, str] | None = None, *, document: str | None = None
    ) -> ValidateResult:
        """Validate a catalog directory's files (path from its root → text) or one file's
        text (as `catalog/posted.yaml`) against the served catalog. Nothing is stored."""
        return self._core.post("/tools/validate", ValidateResult, json=_posted(files, document))

    def preview(
        self, document: str | None = None, *, files: Mapping[str, str] | None = None
    ) -> PreviewResult:
        """The form of a posted item or bundle, as the portal would render it."""
        return self._core.post("/tools/preview", PreviewResult, json=_posted(files, document))


def _posted(files: Mapping[str, str] | None, document: str | None) -> dict[str, Any]:
    if files is None and document is None:
        raise ValueError("give files or a document")
    body: dict[str, Any] = {}
    if files is not None:
        body["files"] = dict(files)
    if document is not None:
        body["document"] = document
    return body
