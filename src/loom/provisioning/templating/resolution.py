"""Phase 3, `resolve(template, variables)` → `Resolved`: the value of every reference,
a `Missing` stand-in, or a `Pending` "known after task N" placeholder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loom.provisioning.templating.namespaces import Variables
from loom.provisioning.templating.sandbox import in_range
from loom.provisioning.templating.template import Reference, Template
from loom.provisioning.templating.values import Missing, Pending


@dataclass(frozen=True)
class Resolved:
    """A template with the value of each of its references."""

    template: Template
    values: Mapping[Reference, Any]


def resolve(template: Template, variables: Variables) -> Resolved:
    """Look up every reference: its value, `Missing` when there is none, or `Pending`
    for an output a later task will produce."""
    return Resolved(template, {ref: _lookup(ref, variables) for ref in template.references})


def _lookup(reference: Reference, variables: Variables) -> Any:
    roots: Mapping[str, Any] = {
        "current": variables.current,
        "output": variables.output,
        "metadata": variables.metadata,
        "system": variables.system,
    }
    if reference.namespace not in roots:
        return Missing(name=reference.text)
    path = reference.path
    if reference.namespace == "output" and path and path[0] not in variables.output:
        task = variables.pending.get(str(path[0]))
        if task is not None:
            return Pending(task, ".".join(map(str, path)))
    value = roots[reference.namespace]
    for key in path:
        found = isinstance(value, Mapping) and isinstance(key, str) and key in value
        if not (found or (isinstance(value, list | tuple) and in_range(value, key))):
            return Missing(name=reference.text)
        value = value[key]
    return value
