"""instances.choose: the named instance, else `default`, else the only one; a clear
failure naming what is configured otherwise."""

from __future__ import annotations

import pytest

from loom.actions.base import ActionFailed
from loom.integrations.instances import choose


def test_the_named_instance_wins_over_default() -> None:
    assert choose("JIRA", "jira", {"default": 1, "ops": 2}, "ops") == ("ops", 2)


def test_without_a_name_default_is_used_then_the_only_one() -> None:
    assert choose("JIRA", "jira", {"default": 1, "ops": 2}) == ("default", 1)
    assert choose("JIRA", "jira", {"ops": 2}, "") == ("ops", 2)


@pytest.mark.parametrize(
    ("instances", "name", "message"),
    [
        ({"ops": 1}, "sec", "no JIRA instance named 'sec' (configured: ops)"),
        ({}, None, "no JIRA instance is configured (LOOM_INTEGRATIONS__JIRA__<NAME>__...)"),
        (
            {"ops": 1, "sec": 2},
            None,
            "several JIRA instances are configured (ops, sec) and none is named 'default'",
        ),
    ],
)
def test_no_instance_to_use_fails_clearly(
    instances: dict[str, int], name: str | None, message: str
) -> None:
    with pytest.raises(ActionFailed) as caught:
        choose("JIRA", "jira", instances, name)
    assert caught.value.message.startswith(message)
    assert caught.value.retryable is False
