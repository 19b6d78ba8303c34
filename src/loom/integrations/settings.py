"""Settings of the integration instances (`[integrations]` in loom.toml,
`LOOM_INTEGRATIONS__*` variables). Several instances of each system may be configured
by name (`LOOM_INTEGRATIONS__JIRA__MAIN__BASE_URL`); an action picks one with its
`instance` key, else the one named `default`, else the only one. Tokens are secrets:
masked in every dump and log. The hosts of configured instances may always be called
(they are the operator's choice, not catalog text)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JiraInstance(_Group):
    """One JIRA site: Cloud (email + API token, basic auth) or Data Center/Server
    (personal access token, bearer)."""

    base_url: str = Field(description="e.g. https://acme.atlassian.net")
    auth: Literal["api_token", "pat"] = "api_token"
    email: str = Field(default="", description="The account of the API token (Cloud)")
    token: SecretStr = SecretStr("")
    api_version: Literal["2", "3"] = Field(
        default="2", description="REST API version: 3 takes descriptions in ADF"
    )
    default_project: str = ""
    done_statuses: list[str] = Field(
        default_factory=lambda: ["Done", "Closed", "Resolved"],
        description="Statuses that count as done (besides the 'done' status category)",
    )
    browse_url: str = Field(default="", description="Where people open tickets (default: base_url)")

    @model_validator(mode="after")
    def _credentials(self) -> JiraInstance:
        if self.auth == "api_token" and self.token.get_secret_value() and not self.email:
            raise ValueError("an api_token needs the email of its account")
        return self


class GithubInstance(_Group):
    """github.com or a GitHub Enterprise Server: a token, or a GitHub App installation."""

    api_url: str = Field(default="https://api.github.com", description="GHES: https://host/api/v3")
    web_url: str = Field(default="https://github.com")
    token: SecretStr = SecretStr("")
    app_id: str = ""
    app_private_key: SecretStr = SecretStr("")
    installation_id: str = ""
    download_hosts: list[str] = Field(
        default_factory=lambda: ["*.actions.githubusercontent.com", "*.blob.core.windows.net"],
        description="Hosts artifact downloads redirect to (GHES: its storage host)",
    )

    @model_validator(mode="after")
    def _one_credential(self) -> GithubInstance:
        app = bool(self.app_id or self.app_private_key.get_secret_value() or self.installation_id)
        if app and not (
            self.app_id and self.app_private_key.get_secret_value() and self.installation_id
        ):
            raise ValueError("a GitHub App needs app_id, app_private_key and installation_id")
        return self


class TerraformInstance(_Group):
    """Terraform Cloud or Terraform Enterprise."""

    base_url: str = "https://app.terraform.io"
    token: SecretStr = SecretStr("")
    organization: str = ""


class EscalationSettings(_Group):
    """Where escalated requests become tickets (an item may name its own project)."""

    jira_instance: str = ""
    project: str = ""
    issue_type: str = "Task"


class IntegrationSettings(_Group):
    jira: dict[str, JiraInstance] = Field(default_factory=dict)
    github: dict[str, GithubInstance] = Field(default_factory=dict)
    terraform: dict[str, TerraformInstance] = Field(default_factory=dict)
    escalation: EscalationSettings = EscalationSettings()
    demo_fakes: bool = Field(
        default=False,
        description="Run in-process fake JIRA/GitHub/Terraform servers for the demo "
        "(on with demo_data when no real instance is configured)",
    )
