"""A catalog form as the portal shows it: the fields of `form_view` with the values typed,
the server's message next to each field, and a posted form read back into the input that
`validate_input` (and so the request service) takes.

Used by an entry's page (request it) and by a request's page (retry with corrected
input). Secret values are never shown again: a secret field always renders empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from loom.catalog.documents import CatalogBundle, CatalogItem, Form, FormField
from loom.catalog.form_input import ValidatedInput, validate_input
from loom.catalog.form_view import form_view
from loom.catalog.forms import get_path, walk
from loom.errors import FieldIssue
from loom.secrets.service import MASK

#: Posted form values are named `input.<field path>`, apart from the page's own fields
#: (a form field may well be called `csrf_token`).
INPUT_PREFIX = "input."
#: How the request service names a form field in its errors (`inputs.<path>`).
SERVICE_PREFIX = "inputs."


def dom_id(path: str) -> str:
    """The id of a field's input: paths are identifiers joined by dots, ids use '-'."""
    return "in-" + path.replace(".", "-")


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def _html_value(field_type: str, value: Any) -> Any:
    """A typed value (a default, a stored value) as the form control shows it."""
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


def typed_state(document: CatalogItem | CatalogBundle, values: Mapping[str, Any]) -> FormState:
    """The form filled with typed values: the defaults, or a request's stored input."""
    raw = {
        path: _html_value(f.type, get_path(values, path, f.default))
        for path, f in walk(document.spec.form.fields)
        if f.type != "group"
    }
    checked = validate_input(document, dict(values))
    return FormState(raw=raw, visible=checked.visible, required=checked.required)


def posted_input(fields: list[FormField], posted: FormData, prefix: str = "") -> dict[str, Any]:
    """The input `validate_input` gets from a posted form: nested by group, strings as
    typed, a checkbox that is not ticked is false, a multi-enum is a list."""
    data: dict[str, Any] = {}
    for f in fields:
        path = f"{prefix}{f.id}"
        name = INPUT_PREFIX + path
        if f.type == "group":
            data[f.id] = posted_input(f.fields or [], posted, f"{path}.")
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


def posted_state(
    document: CatalogItem | CatalogBundle, data: Mapping[str, Any]
) -> tuple[FormState, ValidatedInput]:
    """The form as posted, checked by the server's rules (every field's first problem)."""
    result = validate_input(document, dict(data))
    errors: dict[str, str] = {}
    for issue in result.errors:
        errors.setdefault(issue.field, issue.issue)
    state = FormState(
        raw=_raw(document.spec.form, data),
        errors=errors,
        visible=result.visible,
        required=result.required,
    )
    return state, result


def service_issues(details: Iterable[FieldIssue]) -> tuple[dict[str, str], list[FieldIssue]]:
    """Split the request service's issues: those on a form field (by path), the rest."""
    on_fields: dict[str, str] = {}
    others: list[FieldIssue] = []
    for issue in details:
        if issue.field.startswith(SERVICE_PREFIX):
            on_fields.setdefault(issue.field.removeprefix(SERVICE_PREFIX), issue.issue)
        else:
            others.append(issue)
    return on_fields, others


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
    described = [f"{ident}-help"] if view["help"] else []
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


def field_views(form: Form, state: FormState) -> list[dict[str, Any]]:
    """Every field of the form, ready for templates/catalog/_fields.html."""
    return [_field(view, state) for view in form_view(form)]


def titles(form: Form) -> dict[str, str]:
    """Each field's title by path, a group's title before its fields' ("Database / Size")."""
    found: dict[str, str] = {}
    for path, f in walk(form.fields):
        own = f.title or f.id.replace("_", " ").capitalize()
        parent = path.rpartition(".")[0]
        found[path] = f"{found[parent]} / {own}" if parent in found else own
    return found


def error_summary(
    issues: Iterable[tuple[str, str]], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The list above the form: each problem, linked to its field when it has one."""
    return [
        {
            "path": path,
            "title": names.get(path, path),
            "issue": issue,
            "anchor": dom_id(path) if path in names else None,
        }
        for path, issue in issues
    ]


def _shown(f: FormField, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    labels = {str(o.value): o.label or str(o.value) for o in f.option_items()}
    if isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value) or "—"
    return labels.get(str(value), str(value))


def value_rows(
    form: Form, values: Mapping[str, Any], secret_paths: Iterable[str], names: Mapping[str, str]
) -> list[dict[str, str]]:
    """Validated (or stored) values as people read them, a secret as the mask."""
    secret = set(secret_paths)
    rows = []
    for path, f in walk(form.fields):
        if f.type == "group":
            continue
        if path in secret:
            rows.append({"path": path, "title": names[path], "value": MASK})
            continue
        value = get_path(values, path)
        if value is not None:
            rows.append({"path": path, "title": names[path], "value": _shown(f, value)})
    return rows


def has_secrets(form: Form) -> bool:
    return any(f.type == "secret" for _, f in walk(form.fields))
