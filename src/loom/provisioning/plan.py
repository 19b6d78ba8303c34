"""Turning a catalog entry and validated input into the ordered list of fulfillment tasks
(pure: no database). For a bundle, the components' actions in dependency order; each
component's input is the bundle's form values overlaid by the component's inputs."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from loom.catalog.documents import CatalogBundle, CatalogItem, Document, Form
from loom.catalog.forms import set_path, walk
from loom.catalog.rules import dependency_order

_ITEM = TypeAdapter(CatalogItem)
_DOCUMENT: TypeAdapter[CatalogItem | CatalogBundle] = TypeAdapter(CatalogItem | CatalogBundle)


@dataclass(frozen=True)
class TaskSpec:
    position: int
    component_id: str
    item_id: str
    action_id: str
    action_type: str
    config: dict[str, Any]
    declared_outputs: list[str]
    inputs: dict[str, Any] = field(default_factory=dict)


def component_inputs(shared: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The bundle's values overlaid by a component's own inputs (dotted keys allowed;
    templated strings stay templates until the task runs)."""
    merged: dict[str, Any] = deepcopy(shared)
    for key, value in inputs.items():
        set_path(merged, key, deepcopy(value))
    return merged


def with_defaults(form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the form's defaults filled in where nothing was given (a bundle
    component's item fields that neither the bundle form nor its inputs set)."""
    filled: dict[str, Any] = deepcopy(values)
    for path, f in walk(form.fields):
        if f.type == "group" or f.default is None or f.type == "secret":
            continue
        node: Any = filled
        for part in path.split(".")[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get(path.rsplit(".", 1)[-1]) in (None, "", []):
            set_path(filled, path, deepcopy(f.default))
    return filled


def pin(document: Document, items: dict[str, CatalogItem]) -> dict[str, Any]:
    """What a request keeps of the catalog: the entry, and for a bundle its items too."""
    pinned: dict[str, Any] = {
        "entry": document.model_dump(mode="json", by_alias=True, exclude_unset=True)
    }
    if isinstance(document, CatalogBundle):
        pinned["items"] = {
            c.item: items[c.item].model_dump(mode="json", by_alias=True, exclude_unset=True)
            for c in document.spec.components
        }
    return pinned


def unpin(pinned: dict[str, Any]) -> tuple[Document, dict[str, CatalogItem]]:
    document = _DOCUMENT.validate_python(pinned["entry"])
    items = {k: _ITEM.validate_python(v) for k, v in pinned.get("items", {}).items()}
    return document, items


def build_tasks(
    document: Document, items: dict[str, CatalogItem], values: dict[str, Any]
) -> list[TaskSpec]:
    specs: list[TaskSpec] = []
    if isinstance(document, CatalogItem):
        parts = [("", document, values)]
    else:
        by_id = {c.id: c for c in document.spec.components}
        order = dependency_order({c.id: list(c.depends_on) for c in document.spec.components})
        parts = []
        for cid in order:
            item = items[by_id[cid].item]
            merged = component_inputs(values, by_id[cid].inputs)
            parts.append((cid, item, with_defaults(item.spec.form, merged)))
    for component_id, item, inputs in parts:
        for action in item.spec.fulfillment.actions:
            specs.append(
                TaskSpec(
                    position=len(specs),
                    component_id=component_id,
                    item_id=item.metadata.id,
                    action_id=action.id,
                    action_type=action.type,
                    config=deepcopy(action.config),
                    declared_outputs=list(action.outputs),
                    inputs=inputs,
                )
            )
    return specs
