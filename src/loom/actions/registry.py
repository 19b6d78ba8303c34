"""The registry of action types, keyed by `type`. Types are registered explicitly in
`builtin.py` (no class names built from strings); the catalog validates each action's
config against its type's schema."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel


@dataclass(frozen=True)
class ActionType:
    name: str
    description: str
    config_model: type[BaseModel]


_registry: dict[str, ActionType] = {}


def register(action_type: ActionType) -> ActionType:
    if action_type.name in _registry:
        raise ValueError(f"action type {action_type.name!r} registered twice")
    _registry[action_type.name] = action_type
    return action_type


def action_types() -> Mapping[str, ActionType]:
    from loom.actions import builtin  # noqa: F401 - registers the built-in types once

    return MappingProxyType(_registry)
