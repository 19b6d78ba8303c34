"""API shapes of the catalog."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loom.catalog.cache import ServedEntry
from loom.catalog.loader import LoadedCatalog, Problem


class CatalogSummary(BaseModel):
    id: str
    kind: str
    name: str
    description: str
    category: str
    version: str
    owner: str | None
    tags: list[str]
    stale: bool = Field(
        description="The newest sync found it invalid; this is its last good version"
    )
    commit: str | None
    updated_at: datetime

    @classmethod
    def of(cls, entry: ServedEntry) -> CatalogSummary:
        meta = entry.document.metadata
        return cls(
            id=entry.entry_id,
            kind=entry.kind,
            name=meta.name,
            description=meta.description,
            category=meta.category,
            version=meta.version,
            owner=entry.owner_team,
            tags=list(meta.tags),
            stale=entry.stale,
            commit=entry.commit_sha,
            updated_at=entry.updated_at,
        )


class CatalogDetail(CatalogSummary):
    links: list[dict[str, str]]
    custom: dict[str, Any]
    source_file: str
    synced_at: datetime
    definition: dict[str, Any]

    @classmethod
    def of(cls, entry: ServedEntry) -> CatalogDetail:
        meta = entry.document.metadata
        return cls(
            **CatalogSummary.of(entry).model_dump(),
            links=[link.model_dump() for link in meta.links],
            custom=dict(meta.custom),
            source_file=entry.source_file,
            synced_at=entry.synced_at,
            definition=entry.document.model_dump(mode="json", by_alias=True, exclude_defaults=True),
        )


class FormOut(BaseModel):
    id: str
    kind: str
    name: str
    version: str
    fields: list[dict[str, Any]]
    json_schema: dict[str, Any]


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str
    digest: str
    commit_sha: str | None
    source_file: str
    created_at: datetime


class ProblemOut(BaseModel):
    file: str
    line: int
    path: str
    message: str
    document_id: str | None = None
    text: str

    @classmethod
    def of(cls, problem: Problem) -> ProblemOut:
        return cls(
            file=problem.file,
            line=problem.line,
            path=problem.path,
            message=problem.message,
            document_id=problem.document_id,
            text=str(problem),
        )


class SyncOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    trigger: str
    source: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    commit_sha: str | None
    items: int
    bundles: int
    changed: int
    problems: list[ProblemOut]
    error: str | None


class SyncStatus(BaseModel):
    source: str
    branch: str
    last: SyncOut | None
    last_successful: SyncOut | None
    recent: list[SyncOut]


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, str] | None = Field(
        default=None, description="A catalog directory's files: path (from its root) → text"
    )
    document: str | None = Field(default=None, description="One YAML file's text")
    filename: str = Field(
        default="catalog/posted.yaml",
        pattern=r"^(catalog|bundles)/[\w./-]+\.ya?ml$",
        description="Where `document` would live in the repository (for problem locations)",
    )

    def as_files(self) -> dict[str, str]:
        files = dict(self.files or {})
        if self.document is not None:
            files.setdefault(self.filename, self.document)
        return files


class ValidateResult(BaseModel):
    ok: bool
    items: list[str]
    bundles: list[str]
    problems: list[ProblemOut]

    @classmethod
    def of(cls, loaded: LoadedCatalog) -> ValidateResult:
        return cls(
            ok=not loaded.problems,
            items=sorted(loaded.items),
            bundles=sorted(loaded.bundles),
            problems=[ProblemOut.of(p) for p in loaded.problems],
        )


class PreviewResult(BaseModel):
    ok: bool
    problems: list[ProblemOut]
    form: FormOut | None


class FieldError(BaseModel):
    field: str
    issue: str


class InputCheck(BaseModel):
    ok: bool
    values: dict[str, Any] = Field(description="Validated values (secret fields left out)")
    errors: list[FieldError]


class TestVariablesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str | None = Field(default=None, max_length=65536, description="One template")
    config: dict[str, Any] | None = Field(
        default=None, description="A whole action config (every string rendered)"
    )
    variables: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Sample values by namespace: {"current": {...}, "output": {...}, ...}',
    )
    format: Literal["text", "json"] = Field(
        default="text", description="json: the template sits inside a JSON string"
    )


class TestVariablesResult(BaseModel):
    rendered: Any
    warnings: list[str]
