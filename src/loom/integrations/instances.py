"""Which configured instance of an outside system an action uses: the one its
`instance` key names, else the one named `default`, else the only one configured.
Shared by every integration (JIRA, GitHub, Terraform) so the rule is the same for all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from loom.actions.base import ActionFailed

InstanceT = TypeVar("InstanceT")
DEFAULT = "default"


def choose(
    system: str, setting: str, instances: Mapping[str, InstanceT], name: str | None = None
) -> tuple[str, InstanceT]:
    """(name, settings) of the instance to use; ActionFailed naming what is configured
    when there is no such instance. `system` is shown to people ("JIRA"), `setting` is
    the settings key (`jira`, as in LOOM_INTEGRATIONS__JIRA__<NAME>__...)."""
    configured = ", ".join(sorted(instances)) or "none"
    if name:
        if name not in instances:
            raise ActionFailed(f"no {system} instance named {name!r} (configured: {configured})")
        return name, instances[name]
    if DEFAULT in instances:
        return DEFAULT, instances[DEFAULT]
    if len(instances) == 1:
        [(only, instance)] = instances.items()
        return only, instance
    if not instances:
        variable = f"LOOM_INTEGRATIONS__{setting.upper()}__<NAME>__..."
        raise ActionFailed(f"no {system} instance is configured ({variable})")
    raise ActionFailed(
        f"several {system} instances are configured ({configured}) and none is named "
        f"{DEFAULT!r}: name one with the action's `instance` key"
    )
