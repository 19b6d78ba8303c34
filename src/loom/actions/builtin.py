"""Config schemas of the built-in action types. Every string may be a template
(`{{.current.name}}`), so values are typed loosely where a template could stand."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from loom.actions.registry import ActionType, register


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class JiraTicketConfig(_Config):
    project: str
    issue_type: str = "Task"
    summary: str
    description: str = ""
    labels: list[str] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict, description="Extra JIRA fields by id")
    wait_for: Literal["created", "resolved"] = Field(
        default="resolved", description="Complete the task when the ticket is created or resolved"
    )


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


class GithubFile(_Config):
    path: str
    content: str


class GithubCommitConfig(_Config):
    repo: str = Field(pattern=r"^[^/\s]+/[^/\s]+$|\{\{")
    branch: str = "main"
    message: str
    files: list[GithubFile] = Field(min_length=1)
    pull_request: bool = False
    pull_request_title: str | None = None


class GithubWorkflowConfig(_Config):
    repo: str
    workflow: str = Field(description="Workflow file name or id")
    ref: str = "main"
    inputs: dict[str, Any] = Field(default_factory=dict)
    wait: bool = True


class TerraformConfig(_Config):
    working_dir: str
    workspace: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    operation: Literal["plan", "apply", "destroy"] = "apply"


for _type, _description, _model in (
    ("jira-ticket", "Open a JIRA ticket for a manual step", JiraTicketConfig),
    ("rest-api", "Call a REST API", RestApiConfig),
    ("github-commit", "Commit files to a GitHub repository", GithubCommitConfig),
    ("github-workflow", "Run a GitHub Actions workflow", GithubWorkflowConfig),
    ("terraform", "Run Terraform", TerraformConfig),
):
    register(ActionType(_type, _description, _model))
