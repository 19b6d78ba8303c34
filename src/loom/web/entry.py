"""A catalog item's or bundle's page: its metadata, what it requests, and its form.

The form is rendered from `form_view` with the browser's hints (required, min/max,
lengths, and patterns the browser can compile) and the conditions in data attributes,
which /static/catalog.js evaluates as people type. The form carries `novalidate`: the
browser never blocks the post, so the server's check (the request service's, the one
that counts) always answers, with each field's message next to it. Previewing and
submitting the form are `web.ordering`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.auth import service as auth_service
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog import service
from loom.catalog.cache import ServedEntry
from loom.catalog.documents import CatalogBundle, CatalogItem
from loom.platform.runtime import Runtime
from loom.web import once
from loom.web.catalog import CATALOG, KIND_LABELS, when
from loom.web.catalog_form import (
    FormState,
    error_summary,
    field_views,
    has_secrets,
    titles,
    typed_state,
)
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

#: The form field naming the team a request is for (not a catalog form value).
TEAM_FIELD = "team"


@dataclass
class EntryForm:
    """What the form shows this time: values and messages, the team chosen, problems
    that belong to no field, and the preview panel (a plan) if one was asked for."""

    state: FormState
    team: str = ""
    team_error: str | None = None
    issues: list[tuple[str, str]] = field(default_factory=list)
    plan: dict[str, Any] | None = None


@dataclass(frozen=True)
class LoadedEntry:
    entry: ServedEntry
    served: dict[str, ServedEntry]
    teams: list[dict[str, str]]
    default_team: str


def _custom(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in values.items()
    ]


def _components(bundle: CatalogBundle, served: Mapping[str, ServedEntry]) -> list[dict[str, Any]]:
    rows = []
    for component in bundle.spec.components:
        target = served.get(component.item)
        rows.append(
            {
                "id": component.id,
                "item": component.item,
                "item_name": target.document.metadata.name if target else None,
                "inputs": _custom(component.inputs),
                "depends_on": list(component.depends_on),
            }
        )
    return rows


def _used_in(entry_id: str, served: Mapping[str, ServedEntry]) -> list[dict[str, str]]:
    return sorted(
        (
            {"id": e.entry_id, "name": e.document.metadata.name}
            for e in served.values()
            if isinstance(e.document, CatalogBundle)
            and any(c.item == entry_id for c in e.document.spec.components)
        ),
        key=lambda b: b["name"].lower(),
    )


async def load_entry(
    session: AsyncSession, runtime: Runtime, principal: Principal, entry_id: str
) -> LoadedEntry:
    """The entry (404 when not served), the catalog around it, and the teams the caller
    may request it for (operator or more, as the request service requires)."""
    async with session.begin():
        entry = await service.get(session, runtime, principal, entry_id)
        served = await service.entries(session, runtime, principal)
        visible = await auth_service.list_teams(session, principal)
    teams = [
        {"id": str(t.id), "slug": t.slug, "name": t.name}
        for t in visible
        if (principal.role_in(t.id) or Role.VIEWER) >= Role.OPERATOR
    ]
    return LoadedEntry(entry, served, teams, _default_team(principal, teams))


def _default_team(principal: Principal, teams: list[dict[str, str]]) -> str:
    """Preselected when there is no doubt: the one team offered, else the caller's only
    team (the one the request service picks when none is named)."""
    if len(teams) == 1:
        return teams[0]["slug"]
    own = {str(team_id) for team_id in principal.team_ids}
    mine = [t["slug"] for t in teams if t["id"] in own]
    return mine[0] if len(own) == 1 and mine else ""


def render_entry(
    request: Request,
    loaded: LoadedEntry,
    form: EntryForm | None = None,
    *,
    status_code: int = 200,
) -> Response:
    entry, served = loaded.entry, loaded.served
    document = entry.document
    if form is None:
        form = EntryForm(state=typed_state(document, {}))
    names = titles(document.spec.form)
    summary = error_summary([*form.state.errors.items(), *form.issues], names)
    if form.team_error:
        summary.insert(
            0, {"path": TEAM_FIELD, "title": "Team", "issue": form.team_error, "anchor": "team"}
        )
    meta = document.metadata
    context = {
        "entry": entry,
        "kind": KIND_LABELS.get(entry.kind, entry.kind),
        "meta": meta,
        "custom": _custom(meta.custom),
        "commit": (entry.commit_sha or "")[:12],
        "synced": when(entry.synced_at),
        "fields": field_views(document.spec.form, form.state),
        "actions": document.spec.fulfillment.actions if isinstance(document, CatalogItem) else [],
        "components": (
            _components(document, served) if isinstance(document, CatalogBundle) else []
        ),
        "used_in": _used_in(entry.entry_id, served) if isinstance(document, CatalogItem) else [],
        "error_summary": summary,
        "teams": loaded.teams,
        "team": form.team or loaded.default_team,
        "team_error": form.team_error,
        "plan": form.plan,
        "has_secrets": has_secrets(document.spec.form),
        "once_field": once.FIELD,
        "once_token": once.new_token(),
        "preview_url": f"{CATALOG}/{entry.entry_id}/preview",
        "submit_url": f"{CATALOG}/{entry.entry_id}/request",
    }
    return render(request, "catalog/entry.html", context, status_code=status_code)


@router.get(CATALOG + "/{entry_id}")
async def entry_page(
    request: Request,
    entry_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    return render_entry(request, await load_entry(session, runtime, principal, entry_id))
