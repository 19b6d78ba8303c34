"""registry: action types registered explicitly, once each, and read-only to everyone else."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from loom.actions import registry
from loom.actions.registry import ActionType, action_types, register

BUILT_IN = {"jira-ticket", "rest-api", "github-commit", "github-workflow", "terraform-run"}


class _Config(BaseModel):
    message: str


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the registry, so that tests can register types without leaking them."""
    action_types()  # the built-in types first
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))


def test_the_built_in_types_are_registered() -> None:
    types = action_types()
    assert set(types) >= BUILT_IN
    assert all(types[name].name == name for name in types)
    assert all(types[name].description for name in BUILT_IN)


def test_registering_a_type_twice_is_refused(scratch_registry: None) -> None:
    original = action_types()["rest-api"]
    with pytest.raises(ValueError, match="action type 'rest-api' registered twice"):
        register(ActionType("rest-api", "An impostor", _Config))
    assert action_types()["rest-api"] is original


def test_a_registered_type_is_listed(scratch_registry: None) -> None:
    slack = register(ActionType("slack-message", "Post to Slack", _Config))
    assert action_types()["slack-message"] is slack
    with pytest.raises(ValueError, match="registered twice"):
        register(ActionType("slack-message", "Again", _Config))


def test_the_registry_is_read_only() -> None:
    types = action_types()
    with pytest.raises(TypeError):
        types["evil"] = ActionType("evil", "x", _Config)  # type: ignore[index]
    assert "evil" not in action_types()
