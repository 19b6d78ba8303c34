"""Turning a catalog entry and validated input into the ordered list of fulfillment tasks
(pure: no database). For a bundle, the components' actions in dependency order; each
component's input is the bundle's form values overlaid by the component's inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from loom.catalog.documents import CatalogBundle, CatalogItem, Document, Form
from loom.catalog.forms import walk
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


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    node = target
    *parents, leaf = path.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def component_inputs(shared: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The bundle's values overlaid by a component's own inputs (dotted keys allowed;
    templated strings stay templates until the task runs)."""
    merged: dict[str, Any] = _deep_copy(shared)
    for key, value in inputs.items():
        _set_path(merged, key, _deep_copy(value))
    return merged


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def with_defaults(form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with the form's defaults filled in where nothing was given (a bundle
    component's item fields that neither the bundle form nor its inputs set)."""
    filled: dict[str, Any] = _deep_copy(values)
    for path, f in walk(form.fields):
        if f.type == "group" or f.default is None or f.type == "secret":
            continue
        node: Any = filled
        for part in path.split(".")[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get(path.rsplit(".", 1)[-1]) in (None, "", []):
            _set_path(filled, path, _deep_copy(f.default))
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
                    config=_deep_copy(action.config),
                    declared_outputs=list(action.outputs),
                    inputs=inputs,
                )
            )
    return specs
