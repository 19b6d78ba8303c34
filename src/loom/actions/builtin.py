"""Config schemas of the built-in action types. Every string may be a template
(`{{.current.name}}`), so values are typed loosely where a template could stand."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from loom.actions import response_paths
from loom.actions.registry import ActionType, register


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class JiraTicketConfig(_Config):
    """A JIRA ticket for a manual step (see loom.actions.jira)."""

    instance: str = Field(
        default="", description="integrations.jira.<name>; default: 'default', else the only one"
    )
    project: str = Field(default="", description="Project key; default: the instance's")
    issue_type: str = "Task"
    summary: str = Field(min_length=1)
    description: str = Field(
        default="", description="Default: the form values, the requester, a link to the request"
    )
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list, description="Component names")
    priority: str = Field(default="", description="Priority name; default: the project's")
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description="Custom fields by id: customfield_10010: value"
    )
    wait_for: Literal["created", "done"] = Field(
        default="created", description="Complete the task when the ticket is created, or done"
    )
    link_to_previous: bool = Field(
        default=True, description="The request's previous ticket blocks this one"
    )

    @field_validator("labels")
    @classmethod
    def _labels_have_no_spaces(cls, value: list[str]) -> list[str]:
        for label in value:
            if "{{" not in label and (not label or any(c.isspace() for c in label)):
                raise ValueError(f"label {label!r}: JIRA labels are single words")
        return value

    @field_validator("custom_fields")
    @classmethod
    def _custom_field_ids(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            number = key.removeprefix("customfield_")
            if number == key or not number.isdigit():
                raise ValueError(f"{key!r} is not a custom field id (customfield_<number>)")
        return value


def _check_output_paths(value: dict[str, str]) -> dict[str, str]:
    for key, path in value.items():
        if "{{" not in path:
            try:
                response_paths.parse(path)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    return value


class RestApiLookup(_Config):
    """`reconcile` of a rest-api config: how to find the effect of an earlier attempt."""

    method: Literal["GET", "HEAD", "POST"] = Field(
        default="GET", description="POST only for search endpoints: a lookup changes nothing"
    )
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    found_status: list[int] = Field(
        default_factory=lambda: [200], min_length=1, description="The effect exists"
    )
    not_found_status: list[int] = Field(
        default_factory=lambda: [404], min_length=1, description="No earlier attempt took effect"
    )
    output_map: dict[str, str] = Field(
        default_factory=dict, description="the outputs of the found effect, as in outputMap"
    )
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)

    _paths_parse = field_validator("output_map")(_check_output_paths)

    @model_validator(mode="after")
    def _statuses_disjoint(self) -> RestApiLookup:
        both = sorted(set(self.found_status) & set(self.not_found_status))
        if both:
            listed = ", ".join(map(str, both))
            raise ValueError(f"status {listed} cannot mean both found and not found")
        return self


class RestApiConfig(_Config):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])
    output_map: dict[str, str] = Field(
        default_factory=dict, description="output key → response path, e.g. response.body.id"
    )
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    reconcile: RestApiLookup | None = Field(
        default=None,
        description="A lookup run before a task attempted earlier runs again (see rest_api)",
    )

    _paths_parse = field_validator("output_map")(_check_output_paths)

    @field_validator("reconcile")
    @classmethod
    def _same_outputs(
        cls, value: RestApiLookup | None, info: ValidationInfo
    ) -> RestApiLookup | None:
        # A found effect stands in for the call: later tasks need the same outputs.
        mapped = info.data.get("output_map")
        if value is None or mapped is None or set(value.output_map) == set(mapped):
            return value
        missing = ", ".join(sorted(set(mapped) - set(value.output_map)))
        extra = ", ".join(sorted(set(value.output_map) - set(mapped)))
        problems = ([f"missing {missing}"] if missing else []) + (
            [f"{extra} not in the call's outputMap"] if extra else []
        )
        raise ValueError(f"outputMap must map the call's output keys: {'; '.join(problems)}")

    @model_validator(mode="after")
    def _one_body(self) -> RestApiConfig:
        if self.json_body is not None and self.form is not None:
            raise ValueError("give a json or a form body, not both")
        return self


_GITHUB_REPO = r"^[^/\s]+/[^/\s]+$|\{\{"
_GITHUB_INSTANCE = "integrations.github.<name>; default: 'default', else the only one"


class GithubFile(_Config):
    path: str = Field(min_length=1)
    content: str


class GithubCommitConfig(_Config):
    """Files committed to a branch, optionally with a pull request (loom.actions.github_commit)."""

    instance: str | None = Field(default=None, description=_GITHUB_INSTANCE)
    repo: str = Field(pattern=_GITHUB_REPO)
    branch: str = "main"
    base_branch: str | None = Field(
        default=None,
        description="Where a missing branch is created from, and the pull request's base "
        "(default: the repository's default branch)",
    )
    message: str = Field(min_length=1)
    files: list[GithubFile] = Field(min_length=1)
    pull_request: bool = False
    pull_request_title: str | None = None
    pull_request_body: str = ""
    wait_for_merge: bool = Field(
        default=False, description="The task waits until the pull request is merged"
    )
    wait_timeout_minutes: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _merge_needs_pull_request(self) -> GithubCommitConfig:
        if self.wait_for_merge and not self.pull_request:
            raise ValueError("waitForMerge needs pullRequest: true")
        return self


class GithubArtifactOutputs(_Config):
    """Outputs read from a JSON object in a file of a run's artifact."""

    artifact: str = Field(min_length=1, description="The artifact's name")
    file: str = Field(default="outputs.json", min_length=1, description="A JSON object in its zip")
    keys: list[str] = Field(default_factory=list, description="Keys to take (default: all)")


class GithubWorkflowConfig(_Config):
    """A workflow_dispatch run, followed until it ends (loom.actions.github_workflow)."""

    instance: str | None = Field(default=None, description=_GITHUB_INSTANCE)
    repo: str = Field(pattern=_GITHUB_REPO)
    workflow: str = Field(min_length=1, description="Workflow file name or id")
    ref: str = "main"
    inputs: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True
    wait_timeout_minutes: float = Field(default=360, gt=0, le=50400)
    outputs_from: GithubArtifactOutputs | None = None

    @model_validator(mode="after")
    def _outputs_need_wait(self) -> GithubWorkflowConfig:
        if self.outputs_from is not None and not self.wait:
            raise ValueError("outputsFrom needs wait: true (artifacts exist once the run ends)")
        return self


_TERRAFORM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class TerraformRunConfig(_Config):
    """A run in a Terraform Cloud / Enterprise workspace (see loom.actions.terraform)."""

    instance: str | None = Field(
        default=None,
        description="integrations.terraform.<name>; default: 'default', else the only one",
    )
    organization: str | None = Field(default=None, description="Default: the instance's")
    workspace: str = Field(min_length=1)
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Terraform input variables: name → any value"
    )
    message: str = Field(default="", description="Shown with the run, after 'Loom task <id>'")
    operation: Literal["apply", "plan", "destroy"] = "apply"
    auto_apply: bool | None = Field(
        default=None, description="Apply without confirmation; default: yes for apply only"
    )
    outputs: list[str] | Literal["all"] = Field(
        default="all", description="State outputs that become task outputs"
    )
    timeout_minutes: int = Field(default=1440, ge=1, le=10080)

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _TERRAFORM_NAME.match(name):
                raise ValueError(f"{name!r} is not a Terraform variable name")
        return value

    @field_validator("outputs")
    @classmethod
    def _output_names(cls, value: list[str] | str) -> list[str] | str:
        for name in value if isinstance(value, list) else []:
            if not _TERRAFORM_NAME.match(name):
                raise ValueError(f"{name!r} is not a Terraform output name")
        return value

    @model_validator(mode="after")
    def _apply_only_when_applying(self) -> TerraformRunConfig:
        if self.operation == "plan" and self.auto_apply:
            raise ValueError("autoApply needs operation apply or destroy (a plan is never applied)")
        return self


class ApproverTeam(_Config):
    team: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$|\{\{", description="Team slug")
    min_role: Literal["viewer", "operator", "admin", "owner"] = Field(
        default="operator", description="The least role in the team that may decide"
    )


class ApprovalConfig(_Config):
    """People approve before the next task runs (see loom.actions.approval)."""

    teams: list[ApproverTeam] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list, description="Approvers by email")
    required: int = Field(default=1, ge=1, le=20, description="Approvals needed")
    timeout_hours: float | None = Field(
        default=None, gt=0, le=8760, description='Then the request fails: "approval expired"'
    )
    auto_approve_if: bool | str | None = Field(
        default=None, description="A templated condition: approved at once when it is true"
    )

    @field_validator("users")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for user in value:
            if "{{" not in user and not re.fullmatch(r"[^@\s]+@[^@\s]+", user.strip()):
                raise ValueError(f"{user!r} is not an email address")
        return value

    @field_validator("auto_approve_if")
    @classmethod
    def _a_condition(cls, value: bool | str | None) -> bool | str | None:
        if isinstance(value, str) and "{{" not in value:
            raise ValueError("write a template, e.g. \"{{ .current.size == 'small' }}\"")
        return value

    @model_validator(mode="after")
    def _someone_can_approve(self) -> ApprovalConfig:
        if not self.teams and not self.users:
            raise ValueError("name the approvers: teams, users or both")
        if not self.teams and self.required > len(self.users):
            raise ValueError(
                f"required is {self.required} but only {len(self.users)} user(s) may approve"
            )
        return self


class CallbackConfig(_Config):
    """The task waits until an outside system POSTs to `.system.callbackUrl` (see
    loom.actions.callback)."""

    notify: RestApiConfig | None = Field(
        default=None, description="A rest-api call that hands the outside system the URL"
    )
    reason: str = Field(default="waiting for a callback", description="Shown while it waits")
    timeout_hours: float = Field(
        default=24, gt=0, le=720, description="The URL expires and the task fails after this"
    )


def register_builtin() -> None:
    """Register the built-in types, each with its executor where one exists yet (called
    once, by registry.action_types()). Executors import their config model from this
    module, hence the import here rather than at the top."""
    from loom.actions.approval import Approval
    from loom.actions.callback import Callback
    from loom.actions.github_commit import GithubCommit
    from loom.actions.github_workflow import GithubWorkflow
    from loom.actions.jira import JiraTicket
    from loom.actions.rest_api import RestApi
    from loom.actions.terraform import TerraformRun

    register(
        ActionType(
            "jira-ticket",
            "Open a JIRA ticket for a manual step",
            JiraTicketConfig,
            executor=JiraTicket(),
        )
    )
    register(ActionType("rest-api", "Call a REST API", RestApiConfig, executor=RestApi()))
    register(
        ActionType(
            "github-commit",
            "Commit files to a GitHub repository",
            GithubCommitConfig,
            executor=GithubCommit(),
        )
    )
    register(
        ActionType(
            "github-workflow",
            "Run a GitHub Actions workflow",
            GithubWorkflowConfig,
            executor=GithubWorkflow(),
        )
    )
    register(
        ActionType(
            "terraform-run",
            "Run Terraform in a Terraform Cloud / Enterprise workspace",
            TerraformRunConfig,
            executor=TerraformRun(),
        )
    )
    register(
        ActionType("approval", "Wait for people to approve", ApprovalConfig, executor=Approval())
    )
    register(
        ActionType(
            "callback",
            "Wait for an outside system to call back",
            CallbackConfig,
            executor=Callback(),
        )
    )
