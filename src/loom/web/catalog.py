"""The catalog in the portal: a page to find offerings (search, filters, cards) and a page
per item or bundle with its metadata and its form.

The form is rendered from `form_view` with the browser's hints (required, min/max,
lengths, and patterns the browser can compile) and the conditions in data attributes,
which /static/catalog.js evaluates as people type. The form carries `novalidate`: the
browser never blocks the post, so the server's check (`validate_input`, the one that
counts) always answers, with each field's message next to it. Nothing is stored yet:
a valid form shows what would be requested.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from loom.api.deps import RuntimeDep, SessionDep
from loom.auth.principal import Principal
from loom.auth.roles import Role
from loom.catalog import service
from loom.catalog.cache import ServedEntry
from loom.catalog.documents import CatalogBundle, CatalogItem, Form, FormField
from loom.catalog.form_input import ValidatedInput, validate_input
from loom.catalog.form_view import form_view
from loom.catalog.forms import get_path, walk
from loom.web.deps import CsrfChecked, PagePrincipal
from loom.web.routing import is_htmx, page_router
from loom.web.templating import render

router = page_router()

CATALOG = "/ui/catalog"
RESULTS_FRAGMENT = "/ui/fragments/catalog"
#: Posted form values are named `input.<field path>`, apart from the page's own fields
#: (a form field may well be called `csrf_token`).
INPUT_PREFIX = "input."
SECRET_MASK = "••••"  # noqa: S105 (what a secret shows instead of its value)
KINDS = {"item": "CatalogItem", "bundle": "CatalogBundle"}
KIND_LABELS = {"CatalogItem": "item", "CatalogBundle": "bundle"}

Text = Annotated[str, Query(max_length=200)]


# --- the catalog page -------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    q: str = ""
    category: str = ""
    owner: str = ""
    kind: str = ""
    tag: str = ""

    @property
    def active(self) -> bool:
        return any((self.q, self.category, self.owner, self.kind, self.tag))

    def to_service(self) -> service.CatalogFilter:
        return service.CatalogFilter(
            kind=KINDS.get(self.kind),
            category=self.category or None,
            owner=self.owner or None,
            tag=self.tag or None,
            q=self.q or None,
        )

    def query(self, **changes: str) -> str:
        """The catalog page's URL with these filters (and `changes`)."""
        values = {
            "q": self.q,
            "category": self.category,
            "owner": self.owner,
            "kind": self.kind,
            "tag": self.tag,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v}
        return f"{CATALOG}?{urlencode(kept)}" if kept else CATALOG


def _filters(q: str, category: str, owner: str, kind: str, tag: str) -> Filters:
    return Filters(
        q=q.strip(),
        category=category.strip(),
        owner=owner.strip().lower(),
        kind=kind if kind in KINDS else "",
        tag=tag.strip(),
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _choices(served: Iterable[ServedEntry]) -> dict[str, list[str]]:
    entries = list(served)
    return {
        "categories": sorted({e.document.metadata.category for e in entries}, key=str.lower),
        "owners": sorted({e.owner_team for e in entries if e.owner_team}),
    }


def _card(entry: ServedEntry) -> dict[str, Any]:
    meta = entry.document.metadata
    return {
        "id": entry.entry_id,
        "kind": KIND_LABELS.get(entry.kind, entry.kind),
        "name": meta.name,
        "description": meta.description,
        "category": meta.category,
        "owner": entry.owner_team,
        "version": meta.version,
        "tags": list(meta.tags),
        "stale": entry.stale,
    }


async def _catalog_context(
    session: SessionDep, runtime: RuntimeDep, principal: Principal, filters: Filters
) -> dict[str, Any]:
    async with session.begin():
        served = await service.entries(session, runtime, principal)
        found = await service.search(session, runtime, principal, filters.to_service())
        syncs = await service.recent_syncs(session, principal, limit=1)
    last = syncs[0] if syncs else None
    sync_status = None
    if last is not None:
        sync_status = {
            "status": last.status,
            "when": _when(last.finished_at or last.started_at),
            "iso": (last.finished_at or last.started_at).isoformat(),
            "commit": (last.commit_sha or "")[:12],
            "item_count": last.items,
            "bundle_count": last.bundles,
            "problems": [p.get("text", "") for p in last.problems or []],
            "error": last.error,
        }
    return {
        "filters": filters,
        "cards": [_card(e) for e in found],
        "total": len(served),
        "choices": _choices(served.values()),
        "sync": sync_status,
        "is_admin": principal.org_role >= Role.ADMIN,
        "results_fragment": RESULTS_FRAGMENT,
    }


@router.get(CATALOG)
async def catalog_page(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Text = "",
    category: Text = "",
    owner: Text = "",
    kind: Text = "",
    tag: Text = "",
) -> Response:
    filters = _filters(q, category, owner, kind, tag)
    context = await _catalog_context(session, runtime, principal, filters)
    return render(request, "catalog/index.html", context)


@router.get(RESULTS_FRAGMENT)
async def catalog_results(
    request: Request,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Text = "",
    category: Text = "",
    owner: Text = "",
    kind: Text = "",
    tag: Text = "",
) -> Response:
    """The cards alone, for htmx to swap in as people type (the address bar follows)."""
    filters = _filters(q, category, owner, kind, tag)
    context = await _catalog_context(session, runtime, principal, filters)
    headers = {"HX-Push-Url": filters.query()} if is_htmx(request) else None
    return render(request, "catalog/_results.html", context, headers=headers)


# --- an item's or a bundle's page ---------------------------------------------------------


def dom_id(path: str) -> str:
    """The id of a field's input: paths are identifiers joined by dots, ids use '-'."""
    return "in-" + path.replace(".", "-")


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _html_value(field_type: str, value: Any) -> Any:
    """A typed value (a default) as the form control shows it."""
    if field_type == "boolean":
        return value is True
    if field_type == "multi-enum":
        return [str(v) for v in value] if isinstance(value, list) else []
    if value is None or field_type == "secret":
        return ""
    return str(value)


@dataclass
class FormState:
    """What the form shows: raw values by path, errors by path, and which fields the
    server's evaluator shows and requires for these values."""

    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    visible: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)


def _initial_state(document: CatalogItem | CatalogBundle) -> FormState:
    form = document.spec.form
    raw = {
        path: _html_value(f.type, f.default) for path, f in walk(form.fields) if f.type != "group"
    }
    initial = validate_input(document, {})
    visible, required = initial.visible, initial.required
    return FormState(raw=raw, visible=visible, required=required)


def _posted(fields: list[FormField], posted: FormData, prefix: str = "") -> dict[str, Any]:
    """The input `validate_input` gets from a posted form: nested by group, strings as
    typed, a checkbox that is not ticked is false, a multi-enum is a list."""
    data: dict[str, Any] = {}
    for f in fields:
        path = f"{prefix}{f.id}"
        name = INPUT_PREFIX + path
        if f.type == "group":
            data[f.id] = _posted(f.fields or [], posted, f"{path}.")
        elif f.type == "multi-enum":
            data[f.id] = [v for v in posted.getlist(name) if isinstance(v, str)]
        elif f.type == "boolean":
            data[f.id] = "true" if name in posted else "false"
        else:
            value = posted.get(name)
            if isinstance(value, str):
                data[f.id] = value
    return data


def _raw(form: Form, data: Mapping[str, Any]) -> dict[str, Any]:
    """What the person typed, by path, to show again (never a secret)."""
    raw: dict[str, Any] = {}
    for path, f in walk(form.fields):
        if f.type == "group":
            continue
        value = get_path(data, path)
        if f.type == "secret":
            raw[path] = ""
        elif f.type == "boolean":
            raw[path] = value == "true"
        elif f.type == "multi-enum":
            raw[path] = value if isinstance(value, list) else []
        else:
            raw[path] = value if isinstance(value, str) else ""
    return raw


def _field(view: dict[str, Any], state: FormState) -> dict[str, Any]:
    """One field of form_view, with what the template needs to render it."""
    path: str = view["path"]
    kind: str = view["type"]
    options = [
        {"value": str(o["value"]), "label": o["label"], "typed": o["value"]}
        for o in view["options"] or []
    ]
    raw = state.raw.get(path, _html_value(kind, view["default"]))
    error = state.errors.get(path)
    ident = dom_id(path)
    described = [i for i, on in ((f"{ident}-help", bool(view["help"])),) if on]
    if error:
        described.append(f"{ident}-error")
    hints = []
    if kind == "multi-enum":
        if view["minLength"] is not None:
            hints.append(f"Choose at least {view['minLength']}.")
        if view["maxLength"] is not None:
            hints.append(f"Choose at most {view['maxLength']}.")
    children = [_field(child, state) for child in view["fields"]] if kind == "group" else []
    return {
        **view,
        "dom_id": ident,
        "name": INPUT_PREFIX + path,
        "value": raw if isinstance(raw, str) else "",
        "selected": set(raw) if isinstance(raw, list) else {raw} if isinstance(raw, str) else set(),
        "checked": raw is True,
        "options": options,
        "error": error,
        "hidden": path not in state.visible,
        "required_now": path in state.required,
        "describedby": " ".join(described),
        "hint": " ".join(hints),
        "min": _num(view["min"]),
        "max": _num(view["max"]),
        "step": "1" if kind == "integer" else "any",
        "data_options": [[o["value"], o["typed"]] for o in options],
        "fields": children,
    }


def _titles(views: list[dict[str, Any]], prefix: str = "") -> dict[str, str]:
    titles: dict[str, str] = {}
    for view in views:
        title = f"{prefix}{view['title']}"
        titles[view["path"]] = title
        if view["type"] == "group":
            titles.update(_titles(view["fields"], f"{title} / "))
    return titles


def _shown(f: FormField, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    labels = {str(o.value): o.label or str(o.value) for o in f.option_items()}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value) or "—"
    return labels.get(str(value), str(value))


def _ready(form: Form, result: ValidatedInput, titles: dict[str, str]) -> list[dict[str, str]]:
    """The validated values, as the request would carry them (secrets masked)."""
    rows = []
    for path, f in walk(form.fields):
        if f.type == "group":
            continue
        if path in result.secrets:
            rows.append({"path": path, "title": titles[path], "value": SECRET_MASK})
            continue
        value = get_path(result.values, path)
        if value is not None:
            rows.append({"path": path, "title": titles[path], "value": _shown(f, value)})
    return rows


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


async def _entry_page(
    request: Request,
    principal: Principal,
    session: SessionDep,
    runtime: RuntimeDep,
    entry_id: str,
    posted: FormData | None = None,
) -> Response:
    async with session.begin():
        entry = await service.get(session, runtime, principal, entry_id)
        served = await service.entries(session, runtime, principal)
    document = entry.document
    form = document.spec.form
    views = form_view(form)
    titles = _titles(views)
    result: ValidatedInput | None = None
    if posted is None:
        state = _initial_state(document)
    else:
        data = _posted(form.fields, posted)
        result = validate_input(document, data)
        visible, required = result.visible, result.required
        errors: dict[str, str] = {}
        for issue in result.errors:
            errors.setdefault(issue.field, issue.issue)
        state = FormState(raw=_raw(form, data), errors=errors, visible=visible, required=required)
    meta = document.metadata
    summary = [
        {
            "path": issue.field,
            "title": titles.get(issue.field, issue.field),
            "issue": issue.issue,
            "anchor": dom_id(issue.field) if issue.field in titles else None,
        }
        for issue in (result.errors if result else [])
    ]
    context = {
        "entry": entry,
        "kind": KIND_LABELS.get(entry.kind, entry.kind),
        "meta": meta,
        "custom": _custom(meta.custom),
        "commit": (entry.commit_sha or "")[:12],
        "synced": _when(entry.synced_at),
        "fields": [_field(v, state) for v in views],
        "actions": document.spec.fulfillment.actions if isinstance(document, CatalogItem) else [],
        "components": (
            _components(document, served) if isinstance(document, CatalogBundle) else []
        ),
        "used_in": _used_in(entry.entry_id, served) if isinstance(document, CatalogItem) else [],
        "error_summary": summary,
        "ready": _ready(form, result, titles) if result is not None and result.ok else None,
        "action_url": f"{CATALOG}/{entry.entry_id}",
    }
    status = 200 if result is None or result.ok else 422
    return render(request, "catalog/entry.html", context, status_code=status)


@router.get(CATALOG + "/{entry_id}")
async def entry_page(
    request: Request,
    entry_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    return await _entry_page(request, principal, session, runtime, entry_id)


@router.post(CATALOG + "/{entry_id}", dependencies=[CsrfChecked])
async def check_entry_form(
    request: Request,
    entry_id: str,
    principal: PagePrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Check the form with the server's rules: every field's problem shown next to it,
    or the validated values ready to be requested (nothing is stored)."""
    posted = await request.form()
    return await _entry_page(request, principal, session, runtime, entry_id, posted)
