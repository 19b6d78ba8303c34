"""Catalog endpoints: search, entries, forms, versions, sync; and the catalog tools
(validate, preview) platform teams use while writing documents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from loom.api.deps import CurrentPrincipal, RuntimeDep, SessionDep
from loom.api.pagination import Page, PageDep, page_body, paginate_list
from loom.catalog import schemas, service
from loom.catalog.cache import ServedEntry
from loom.catalog.documents import Document, json_schemas
from loom.catalog.form_input import validate_input
from loom.catalog.form_view import form_json_schema, form_view
from loom.catalog.sample_render import render_sample
from loom.catalog.sync import sync

router = APIRouter(prefix="/catalog", tags=["catalog"])
tools_router = APIRouter(prefix="/tools", tags=["catalog"])


def _form(entry_id: str, document: Document) -> schemas.FormOut:
    meta = document.metadata
    return schemas.FormOut(
        id=entry_id,
        kind=document.kind,
        name=meta.name,
        version=meta.version,
        fields=form_view(document.spec.form),
        json_schema=form_json_schema(document.spec.form, title=meta.name),
    )


@router.get("", responses={200: {"model": Page[schemas.CatalogSummary]}})
async def list_catalog(
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    page: PageDep,
    kind: Literal["CatalogItem", "CatalogBundle"] | None = None,
    category: str | None = None,
    owner: Annotated[str | None, Query(description="Owning team slug")] = None,
    tag: str | None = None,
    q: Annotated[
        str | None, Query(description="Words to find in id, name, description, tags")
    ] = None,
) -> dict[str, Any]:
    """The catalog, by name, filtered."""
    flt = service.CatalogFilter(kind=kind, category=category, owner=owner, tag=tag, q=q)
    async with session.begin():
        found = await service.search(session, runtime, principal, flt)

    def key(e: ServedEntry) -> list[str]:
        return [e.document.metadata.name.lower(), e.entry_id]

    rows, cursor = paginate_list(found, key, page)
    return page_body([schemas.CatalogSummary.of(e) for e in rows], cursor, page)


@router.get("/schema")
async def schema(principal: CurrentPrincipal) -> dict[str, Any]:
    """JSON Schemas of CatalogItem and CatalogBundle, for editors."""
    return json_schemas()


@router.get("/sync-status", response_model=schemas.SyncStatus)
async def sync_status(
    principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.SyncStatus:
    async with session.begin():
        recent = [
            schemas.SyncOut.model_validate(s)
            for s in await service.recent_syncs(session, principal)
        ]
    settings = runtime.settings.catalog
    return schemas.SyncStatus(
        source=settings.source,
        branch=settings.branch,
        last=recent[0] if recent else None,
        last_successful=next((s for s in recent if s.status != "failed"), None),
        recent=recent,
    )


@router.post("/refresh", response_model=schemas.SyncOut)
async def refresh(principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.SyncOut:
    """Sync the catalog from its repository now."""
    service.require_refresh_right(principal)
    return schemas.SyncOut.model_validate(await sync(runtime, trigger="refresh", actor=principal))


@router.get("/{entry_id}", response_model=schemas.CatalogDetail)
async def get_entry(
    entry_id: str, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.CatalogDetail:
    async with session.begin():
        entry = await service.get(session, runtime, principal, entry_id)
    return schemas.CatalogDetail.of(entry)


@router.get("/{entry_id}/form", response_model=schemas.FormOut)
async def get_form(
    entry_id: str, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> schemas.FormOut:
    """The form resolved for rendering, and a JSON Schema of valid input."""
    async with session.begin():
        entry = await service.get(session, runtime, principal, entry_id)
    return _form(entry_id, entry.document)


@router.post("/{entry_id}/validate-input", response_model=schemas.InputCheck)
async def check_input(
    entry_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    data: Annotated[dict[str, Any], Body(description="Form values")],
) -> schemas.InputCheck:
    """Check form values without submitting anything (secret values are not echoed)."""
    async with session.begin():
        entry = await service.get(session, runtime, principal, entry_id)
    result = validate_input(entry.document, data)
    return schemas.InputCheck(
        ok=result.ok,
        values=result.values,
        errors=[schemas.FieldError(field=e.field, issue=e.issue) for e in result.errors],
    )


@router.get("/{entry_id}/versions", response_model=list[schemas.VersionOut])
async def list_versions(
    entry_id: str, principal: CurrentPrincipal, session: SessionDep, runtime: RuntimeDep
) -> list[schemas.VersionOut]:
    """The last stored versions of an entry, newest first."""
    async with session.begin():
        rows = await service.versions(session, runtime, principal, entry_id)
    return [schemas.VersionOut.model_validate(v) for v in rows]


@tools_router.post("/validate", response_model=schemas.ValidateResult)
async def validate_documents(
    body: schemas.ValidateBody,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.ValidateResult:
    """Validate posted documents (one file, or a whole catalog directory's files) in the
    context of the served catalog. Nothing is stored."""
    async with session.begin():
        context = await service.entries(session, runtime, principal)
    return schemas.ValidateResult.of(service.validate_posted(body.as_files(), context))


@tools_router.post("/preview", response_model=schemas.PreviewResult)
async def preview(
    body: schemas.ValidateBody,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> schemas.PreviewResult:
    """Render the form of a posted item or bundle, as the portal would show it."""
    async with session.begin():
        context = await service.entries(session, runtime, principal)
    loaded = service.validate_posted(body.as_files(), context)
    first = next(iter(loaded.entries), None)
    return schemas.PreviewResult(
        ok=not loaded.problems,
        problems=[schemas.ProblemOut.of(p) for p in loaded.problems],
        form=_form(first.id, first.document) if first else None,
    )


@tools_router.post("/test-variables", response_model=schemas.TestVariablesResult)
async def test_variables(
    body: schemas.TestVariablesBody, principal: CurrentPrincipal
) -> schemas.TestVariablesResult:
    """Render a template (or a whole action config) against sample values, as a worker
    would: missing values render empty and are listed as warnings."""
    result = render_sample(
        template=body.template, config=body.config, variables=body.variables, fmt=body.format
    )
    return schemas.TestVariablesResult(rendered=result.value, warnings=list(result.warnings))
