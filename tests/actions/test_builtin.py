"""builtin: the config schema of each built-in action type accepts a valid example (in the
camelCase of catalog documents) and refuses unknown keys and missing required ones."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.registry import action_types

VALID: dict[str, dict[str, Any]] = {
    "jira-ticket": {
        "project": "DBA",
        "issueType": "Story",
        "summary": "Create {{ .current.name }}",
        "labels": ["catalog"],
        "components": ["Databases"],
        "priority": "High",
        "customFields": {"customfield_1": 3},
        "waitFor": "done",
        "linkToPrevious": False,
    },
    "rest-api": {
        "method": "PUT",
        "url": "https://k8s.internal/namespaces/{{ .current.name }}",
        "headers": {"Authorization": "Bearer {{ .system.requestId }}"},
        "query": {"dryRun": "false"},
        "json": {"name": "{{ .current.name }}", "labels": {"team": "x"}},
        "expectStatus": [200, 201],
        "outputMap": {"namespace_uid": "response.body.metadata.uid"},
        "timeoutSeconds": 10,
    },
    "github-commit": {
        "repo": "acme/infra",
        "branch": "main",
        "message": "Add {{ .current.name }}",
        "files": [{"path": "dns/{{ .current.name }}.tf", "content": "record {}"}],
        "pullRequest": True,
        "pullRequestTitle": "New DNS record",
    },
    "github-workflow": {
        "repo": "acme/infra",
        "workflow": "provision.yml",
        "ref": "release",
        "inputs": {"name": "{{ .current.name }}", "count": 2},
        "wait": False,
    },
    "terraform-run": {
        "instance": "tfe",
        "organization": "acme",
        "workspace": "{{ .current.env }}",
        "variables": {"bucket": "{{ .current.name }}", "tags": {"team": "x"}},
        "message": "Bucket {{ .current.name }}",
        "operation": "destroy",
        "autoApply": True,
        "outputs": ["bucket_arn"],
        "timeoutMinutes": 60,
    },
    "approval": {
        "teams": [{"team": "payments", "minRole": "admin"}],
        "users": ["ana@example.com"],
        "required": 2,
        "timeoutHours": 72,
        "autoApproveIf": "{{ .current.size == 'small' }}",
    },
    "callback": {
        "notify": {
            "url": "https://orders.internal/v1",
            "json": {"to": "{{ .system.callbackUrl }}"},
        },
        "reason": "waiting for the order system",
        "timeoutHours": 48,
    },
}

REQUIRED = {
    "jira-ticket": {"summary"},
    "rest-api": {"url"},
    "github-commit": {"repo", "message", "files"},
    "github-workflow": {"repo", "workflow"},
    "terraform-run": {"workspace"},
    "approval": set(),  # teams or users: see test_an_approval_names_its_approvers
    "callback": set(),
}
#: The least valid config where no single key is required.
MINIMAL = {"approval": {"users": ["ana@example.com"]}}


def validate(action_type: str, config: dict[str, Any]) -> Any:
    return action_types()[action_type].config_model.model_validate(config)


def error_locs(action_type: str, config: dict[str, Any]) -> list[tuple[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        validate(action_type, config)
    return [(e["type"], e["loc"]) for e in caught.value.errors()]


def test_every_built_in_type_has_an_example_here() -> None:
    built_in = {
        name
        for name, action_type in action_types().items()
        if action_type.config_model.__module__ == "loom.actions.builtin"
    }
    assert set(VALID) == set(REQUIRED) == built_in


@pytest.mark.parametrize("action_type", sorted(VALID))
def test_a_valid_config_is_accepted(action_type: str) -> None:
    config = validate(action_type, VALID[action_type])
    assert config.model_dump(by_alias=True, exclude_unset=True) == VALID[action_type]


@pytest.mark.parametrize("action_type", sorted(VALID))
def test_an_unknown_key_is_refused(action_type: str) -> None:
    config = {**VALID[action_type], "colour": "blue"}
    assert error_locs(action_type, config) == [("extra_forbidden", ("colour",))]


@pytest.mark.parametrize("action_type", sorted(REQUIRED))
def test_required_keys(action_type: str) -> None:
    try:
        validate(action_type, {})
        missing: set[Any] = set()
    except ValidationError as exc:
        missing = {e["loc"][0] for e in exc.errors() if e["type"] == "missing"}
    assert missing == REQUIRED[action_type]
    minimal = {key: VALID[action_type][key] for key in REQUIRED[action_type]}
    validate(action_type, MINIMAL.get(action_type, minimal))


def test_defaults() -> None:
    jira = validate("jira-ticket", {"project": "P", "summary": "s"})
    assert (jira.issue_type, jira.wait_for, jira.labels) == ("Task", "created", [])
    rest = validate("rest-api", {"url": "https://x"})
    assert (rest.method, rest.expect_status, rest.timeout_seconds) == (
        "POST",
        [200, 201, 202, 204],
        30,
    )
    assert validate("terraform-run", {"workspace": "w"}).operation == "apply"


@pytest.mark.parametrize(
    ("action_type", "change", "error"),
    [
        ("jira-ticket", {"waitFor": "closed"}, "literal_error"),
        ("rest-api", {"method": "FETCH"}, "literal_error"),
        ("rest-api", {"timeoutSeconds": 0}, "greater_than"),
        ("rest-api", {"timeoutSeconds": 601}, "less_than_equal"),
        ("rest-api", {"headers": {"X-Count": [1]}}, "string_type"),
        ("github-commit", {"repo": "just-a-name"}, "string_pattern_mismatch"),
        ("github-commit", {"files": []}, "too_short"),
        ("github-commit", {"files": [{"path": "a"}]}, "missing"),
        ("terraform-run", {"operation": "import"}, "literal_error"),
        ("approval", {"teams": [{"team": "Pay Ments"}]}, "string_pattern_mismatch"),
        ("approval", {"teams": [{"team": "payments", "minRole": "boss"}]}, "literal_error"),
        ("approval", {"required": 0}, "greater_than_equal"),
        ("approval", {"users": ["not-an-email"]}, "value_error"),
        ("approval", {"autoApproveIf": "yes"}, "value_error"),
        ("callback", {"timeoutHours": 721}, "less_than_equal"),
        ("callback", {"notify": {"method": "GET"}}, "missing"),
    ],
)
def test_invalid_values_are_refused(action_type: str, change: dict[str, Any], error: str) -> None:
    kinds = [kind for kind, _loc in error_locs(action_type, {**VALID[action_type], **change})]
    assert kinds == [error]


def test_a_templated_repository_is_accepted() -> None:
    config = validate("github-commit", {**VALID["github-commit"], "repo": "{{ .current.repo }}"})
    assert config.repo == "{{ .current.repo }}"


def test_an_approval_names_its_approvers() -> None:
    assert error_locs("approval", {}) == [("value_error", ())]
    too_many = {"users": ["ana@example.com"], "required": 2}
    with pytest.raises(ValidationError, match="required is 2 but only 1 user"):
        validate("approval", too_many)
    # With a team, any number may be required: the team's size is known at run time.
    assert validate("approval", {"teams": [{"team": "payments"}], "required": 3}).required == 3
