"""A bundle component's form input: the bundle's values overlaid by the component's own
`inputs`, checked against the component item's form.

A component input may be a template. One that reads only the bundle form (`.current`)
is rendered when the request is submitted, so a bad value is refused at once, with the
component named (`components.db.db_name: must match ...`). One that reads what is known
only later (`.output` of earlier tasks, `.system`, `.metadata`) stays a template in the
pinned definition and is rendered by the worker just before the task runs, then checked
against the same form. Form values typed by the requester are never rendered: only
template text written in the catalog is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from loom.catalog.documents import BundleComponent, CatalogItem
from loom.catalog.form_input import validate_input
from loom.catalog.forms import get_path, set_path, walk
from loom.catalog.references import strings_in
from loom.errors import FieldIssue
from loom.provisioning.templating import TemplateError, Variables, has_tags, parse, render_config


@dataclass(frozen=True)
class ComponentInput:
    """The checked values of one component, and the issues found (field paths prefixed
    with `components.<id>.`)."""

    values: dict[str, Any]
    issues: list[FieldIssue]


def own_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The component's `inputs` as nested values (dotted keys stand for group fields)."""
    own: dict[str, Any] = {}
    for key, value in inputs.items():
        set_path(own, key, deepcopy(value))
    return own


def templates_of(item: CatalogItem, own: Mapping[str, Any]) -> dict[str, str]:
    """Field path → template text, for every input of the component that is a template."""
    found: dict[str, str] = {}
    for path, f in walk(item.spec.form.fields):
        value = get_path(own, path)
        if f.type != "group" and isinstance(value, str) and has_tags(value):
            found[path] = value
    return found


def reads_later_values(source: str) -> bool:
    """Whether a template reads anything besides the form (then it renders at run time)."""
    try:
        return any(ref.namespace != "current" for ref in parse(source).references)
    except TemplateError:
        return False  # rendered now, so the problem is reported at submission


def at_submission(
    component: BundleComponent,
    item: CatalogItem,
    bundle_values: Mapping[str, Any],
    bundle_secrets: Mapping[str, str],
) -> ComponentInput:
    """Render the templates that read only the bundle form, and check the result against
    the item's form; inputs rendered later are left out (and not required yet)."""
    own = own_inputs(component.inputs)
    templates = templates_of(item, own)
    later = {p for p, t in templates.items() if reads_later_values(t)}
    for path in later:
        _drop(own, path)
    now = {p: t for p, t in templates.items() if p not in later}
    if now:
        try:
            rendered = render_config(now, Variables(current=dict(bundle_values))).value
        except TemplateError as exc:
            return ComponentInput({}, [FieldIssue(f"components.{component.id}", exc.message)])
        for path, value in rendered.items():
            set_path(own, path, value)
    merged = _merge(item, bundle_values, bundle_secrets, own)
    result = validate_input(item, merged)
    issues = [
        FieldIssue(f"components.{component.id}.{error.field}", error.issue)
        for error in result.errors
        if not _concerns(error.field, later)
    ]
    return ComponentInput(result.values, issues)


def at_run_time(
    component: BundleComponent,
    item: CatalogItem,
    task_inputs: Mapping[str, Any],
    variables: Variables,
) -> tuple[dict[str, Any], list[str]]:
    """The task's inputs with the templates left for run time rendered (`variables`
    carry the bundle's values as `.current`, and the outputs so far), checked against the
    item's form. Returns the inputs and warnings; raises ValueError naming the field when
    a rendered value does not fit the form."""
    own = own_inputs(component.inputs)
    later = {p: t for p, t in templates_of(item, own).items() if reads_later_values(t)}
    if not later:
        return dict(task_inputs), []
    rendered = render_config(later, variables)
    values = deepcopy(dict(task_inputs))
    for path, value in rendered.value.items():
        set_path(values, path, value)
    result = validate_input(item, values)
    bad = [e for e in result.errors if _concerns(e.field, later)]
    if bad:
        raise ValueError(
            "; ".join(f"component input '{e.field}' is invalid: {e.issue}" for e in bad)
        )
    return result.values, list(rendered.warnings)


def pinned_component(
    definition: Mapping[str, Any], component_id: str
) -> tuple[BundleComponent, CatalogItem] | None:
    """The component of a pinned bundle, and its item, when it has inputs left to render
    at run time (else None: nothing to do, and nothing parsed)."""
    entry = definition.get("entry") or {}
    spec = entry.get("spec") if isinstance(entry, Mapping) else None
    raw = next((c for c in (spec or {}).get("components", []) if c.get("id") == component_id), None)
    if raw is None or not any(has_tags(t) for _path, t in strings_in(raw.get("inputs", {}))):
        return None
    component = BundleComponent.model_validate(raw)
    item_doc = (definition.get("items") or {}).get(component.item)
    if item_doc is None:
        return None
    item = CatalogItem.model_validate(item_doc)
    own = own_inputs(component.inputs)
    if not any(reads_later_values(t) for t in templates_of(item, own).values()):
        return None
    return component, item


def _merge(
    item: CatalogItem,
    bundle_values: Mapping[str, Any],
    bundle_secrets: Mapping[str, str],
    own: Mapping[str, Any],
) -> dict[str, Any]:
    """The bundle's values (secrets included, so a required secret field is satisfied)
    restricted to the item's top-level fields, overlaid by the component's inputs."""
    top = {f.id for f in item.spec.form.fields}
    merged: dict[str, Any] = {k: deepcopy(v) for k, v in bundle_values.items() if k in top}
    for path, value in bundle_secrets.items():
        if path.split(".", 1)[0] in top:
            set_path(merged, path, value)
    for path, f in walk(item.spec.form.fields):
        value = get_path(own, path, _ABSENT)
        if value is not _ABSENT and (f.type != "group" or not isinstance(value, Mapping)):
            set_path(merged, path, deepcopy(value))
    return merged


def _concerns(field: str, paths: Iterable[str]) -> bool:
    """Whether an error on `field` is about one of `paths` (itself, or a group of it)."""
    return any(path == field or path.startswith(f"{field}.") for path in paths)


def _drop(data: dict[str, Any], path: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


_ABSENT = object()
