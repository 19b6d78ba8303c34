"""Turning a catalog entry and validated input into the ordered list of fulfillment tasks
(pure: no database). An item's `spec.approval` is an approval task before its actions.
For a bundle, the components' actions in dependency order; each
component's input is the bundle's form values overlaid by the component's inputs,
checked against its item's form (see loom.provisioning.component_inputs)."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from loom.catalog.documents import CatalogBundle, CatalogItem, Document
from loom.catalog.rules import APPROVAL_ACTION_ID, APPROVAL_ACTION_TYPE, dependency_order
from loom.errors import FieldIssue, RejectedInput
from loom.provisioning.component_inputs import at_submission

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
    document: Document,
    items: dict[str, CatalogItem],
    values: dict[str, Any],
    secrets: dict[str, str] | None = None,
) -> list[TaskSpec]:
    """The tasks of a request, in order. Raises RejectedInput listing every component
    input that does not fit its item's form (`components.<id>.<field>`)."""
    specs: list[TaskSpec] = []
    if isinstance(document, CatalogItem):
        parts = [("", document, values)]
    else:
        by_id = {c.id: c for c in document.spec.components}
        order = dependency_order({c.id: list(c.depends_on) for c in document.spec.components})
        parts = []
        issues: list[FieldIssue] = []
        for cid in order:
            item = items[by_id[cid].item]
            checked = at_submission(by_id[cid], item, values, secrets or {})
            issues.extend(checked.issues)
            parts.append((cid, item, checked.values))
        if issues:
            summary = "; ".join(f"{i.field}: {i.issue}" for i in issues[:3])
            raise RejectedInput(f"invalid component input: {summary}", issues)
    for component_id, item, inputs in parts:
        steps = [(a.id, a.type, a.config, list(a.outputs)) for a in item.spec.fulfillment.actions]
        if item.spec.approval is not None:  # people approve before the item's actions run
            steps.insert(0, (APPROVAL_ACTION_ID, APPROVAL_ACTION_TYPE, item.spec.approval, []))
        for action_id, action_type, config, outputs in steps:
            specs.append(
                TaskSpec(
                    position=len(specs),
                    component_id=component_id,
                    item_id=item.metadata.id,
                    action_id=action_id,
                    action_type=action_type,
                    config=deepcopy(config),
                    declared_outputs=outputs,
                    inputs=inputs,
                )
            )
    return specs
