"""The registry of action types, keyed by `type`. Types are registered explicitly in
`builtin.py` (no class names built from strings); the catalog validates each action's
config against its type's schema, and workers run a task through its type's executor
(see loom.actions.base)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from loom.actions.base import Action


@dataclass(frozen=True)
class ActionType:
    """A kind of fulfillment step. `executor` is None for a type the catalog accepts but
    no worker can run yet."""

    name: str
    description: str
    config_model: type[BaseModel]
    executor: Action[Any] | None = None

    def __post_init__(self) -> None:
        if self.executor is not None and self.executor.config_model is not self.config_model:
            raise ValueError(
                f"action type {self.name!r}: its executor expects "
                f"{self.executor.config_model.__name__}, not {self.config_model.__name__}"
            )


_registry: dict[str, ActionType] = {}
_builtin_registered = False


def register(action_type: ActionType) -> ActionType:
    if action_type.name in _registry:
        raise ValueError(f"action type {action_type.name!r} registered twice")
    _registry[action_type.name] = action_type
    return action_type


def action_types() -> Mapping[str, ActionType]:
    """Every registered type by name, read-only; the built-in ones are registered on
    first use."""
    global _builtin_registered
    if not _builtin_registered:
        from loom.actions.builtin import register_builtin

        _builtin_registered = True
        register_builtin()
    return MappingProxyType(_registry)
