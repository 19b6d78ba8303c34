"""Change webhook adapters: one pure parse function per sending system, each turning a
payload into a `ChangeCreate` (with its `external_id`, so a redelivery records nothing
new), or `None` when the event is not a change (an unsuccessful run, another event).

GitHub (`X-GitHub-Event`, field names as in GitHub's webhook payloads):
  * `deployment` -> a deployment of `deployment.sha` to `deployment.environment`
    (version: `deployment.payload.version` when the payload carries one, else the short
    sha); `deployment_status` with state `success` -> the same change (same external id
    `deployment:<id>`: a repository sending both events records one change);
  * `workflow_run` completed with conclusion `success` -> a change of type `?type=`
    (default deployment) to `?environment=` (default none), version: the short head sha.
  The service: `?service=<slug>`, else a service whose slug is the repository's name,
  else one whose `repository_url` is the repository's (`resolve_github_service`).

Jenkins: the JSON body a pipeline step posts (see `JenkinsBuild`), e.g. with the HTTP
Request plugin:
    httpRequest url: "$LOOM/api/v1/changes/webhooks/jenkins", httpMode: "POST",
      contentType: "APPLICATION_JSON",
      customHeaders: [[name: "Authorization", value: "Bearer ${LOOM_SOURCE_TOKEN}",
                       maskValue: true]],
      requestBody: groovy.json.JsonOutput.toJson([service: "api", environment: "production",
        version: env.VERSION, job: env.JOB_NAME, build_number: env.BUILD_NUMBER as int,
        build_url: env.BUILD_URL, user: env.BUILD_USER_ID ?: "jenkins",
        result: currentBuild.currentResult, timestamp: currentBuild.startTimeInMillis])
  Only `result: SUCCESS` records a change.

ArgoCD: an argocd-notifications webhook service with this template (`ArgoCDSync`):
    template.loom-sync: |
      webhook:
        loom:
          method: POST
          body: |
            {"app": "{{.app.metadata.name}}",
             "revision": "{{.app.status.operationState.syncResult.revision}}",
             "environment": "{{index .app.metadata.labels "environment"}}",
             "status": "{{.app.status.operationState.phase}}",
             "finished_at": "{{.app.status.operationState.finishedAt}}",
             "author": "{{.app.status.operationState.operation.initiatedBy.username}}",
             "labels": {{toJson .app.metadata.labels}},
             "url": "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"}
  with `service.webhook.loom` sending `Authorization: Bearer <source token>`. The
  service is `service` if sent, else the app's label `loom.dev/service`, else the app's
  name. Only status `Succeeded` records a change.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loom.errors import RejectedInput
from loom.incidents.change_schemas import ChangeCreate, validate
from loom.incidents.kinds import ChangeType
from loom.services.models import Service

SERVICE_LABEL = "loom.dev/service"
SHORT_SHA = 12


class Ignored(Exception):
    """The payload is valid but is not a change to record (answered 202 ignored)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _short(sha: str) -> str:
    return sha[:SHORT_SHA]


def _sha(value: str | None) -> str | None:
    return value if value and re.fullmatch(r"[0-9a-fA-F]{7,64}", value) else None


# --- GitHub --------------------------------------------------------------------------


class _Login(BaseModel):
    login: str


class _Repository(BaseModel):
    name: str
    full_name: str
    html_url: str | None = None


class _Deployment(BaseModel):
    id: int
    sha: str
    ref: str = ""
    task: str = "deploy"
    environment: str
    description: str | None = None
    payload: dict[str, Any] | str | None = None
    creator: _Login | None = None
    created_at: datetime
    url: str | None = None


class _DeploymentEvent(BaseModel):
    deployment: _Deployment
    repository: _Repository


class _DeploymentStatus(BaseModel):
    state: str
    environment: str | None = None
    target_url: str | None = None
    created_at: datetime
    creator: _Login | None = None


class _DeploymentStatusEvent(_DeploymentEvent):
    deployment_status: _DeploymentStatus


class _WorkflowRun(BaseModel):
    id: int
    name: str | None = None
    head_sha: str
    head_branch: str | None = None
    html_url: str
    conclusion: str | None = None
    updated_at: datetime
    actor: _Login | None = None


class _WorkflowRunEvent(BaseModel):
    action: str
    workflow_run: _WorkflowRun
    repository: _Repository


def _login(user: _Login | None) -> str:
    return user.login if user is not None else "github"


def _version_of(dep: _Deployment) -> str:
    if isinstance(dep.payload, dict) and isinstance(dep.payload.get("version"), str):
        return str(dep.payload["version"])
    return _short(dep.sha)


def _github_deployment(
    dep: _Deployment, repo: _Repository, *, at: datetime, by: _Login | None, url: str | None
) -> ChangeCreate:
    title = f"{repo.full_name}: {dep.task} {dep.ref or _short(dep.sha)} to {dep.environment}"
    return validate(
        ChangeCreate,
        dict(
            type=ChangeType.DEPLOYMENT, environment=dep.environment, version=_version_of(dep),
            title=title[:300],
            description=dep.description or "", author=_login(by or dep.creator),
            happened_at=at, url=url or (f"{repo.html_url}/deployments" if repo.html_url else None),
            external_id=f"deployment:{dep.id}", commit_sha=_sha(dep.sha),
        ),
    )  # fmt: skip


def parse_github(
    event: str, payload: dict[str, Any], *, change_type: ChangeType | None = None,
    environment: str | None = None,
) -> tuple[ChangeCreate, str]:  # fmt: skip
    """A change and the repository's full name, from one GitHub event; `Ignored` when
    the event records nothing."""
    if event == "deployment":
        d = validate(_DeploymentEvent, payload)
        return _github_deployment(
            d.deployment, d.repository, at=d.deployment.created_at, by=None, url=None
        ), d.repository.full_name
    if event == "deployment_status":
        s = validate(_DeploymentStatusEvent, payload)
        if s.deployment_status.state != "success":
            raise Ignored(f"deployment state '{s.deployment_status.state}'")
        status = s.deployment_status
        return _github_deployment(
            s.deployment, s.repository, at=status.created_at, by=status.creator,
            url=status.target_url,
        ), s.repository.full_name  # fmt: skip
    if event == "workflow_run":
        w = validate(_WorkflowRunEvent, payload)
        run = w.workflow_run
        if w.action != "completed" or run.conclusion != "success":
            raise Ignored(f"workflow run {w.action}, conclusion '{run.conclusion}'")
        title = f"{w.repository.full_name}: {run.name or 'workflow'} on {run.head_branch or '?'}"
        change = validate(
            ChangeCreate,
            dict(
                type=change_type or ChangeType.DEPLOYMENT, environment=environment,
                version=_short(run.head_sha), title=title[:300],
                author=_login(run.actor), happened_at=run.updated_at, url=run.html_url,
                external_id=f"workflow_run:{run.id}", commit_sha=_sha(run.head_sha),
            ),
        )  # fmt: skip
        return change, w.repository.full_name
    raise Ignored(f"event '{event}'")


async def resolve_github_service(
    session: AsyncSession, org_id: uuid.UUID, repository: str, explicit: str | None
) -> str | None:
    """The service slug a GitHub change is about (see the module's docstring)."""
    if explicit:
        return explicit
    name = repository.rsplit("/", 1)[-1].lower()
    urls = [
        f"https://github.com/{repository}".lower(),
        f"https://github.com/{repository}.git".lower(),
    ]
    rows = (
        await session.execute(
            select(Service.slug, Service.repository_url).where(
                Service.org_id == org_id,
                or_(Service.slug == name, func.lower(Service.repository_url).in_(urls)),
            )
        )
    ).all()
    by_slug = [slug for slug, _ in rows if slug == name]
    if by_slug:
        return by_slug[0]
    return sorted(slug for slug, _ in rows)[0] if rows else None


# --- Jenkins -------------------------------------------------------------------------


class JenkinsBuild(BaseModel):
    """What a Jenkins pipeline step posts. `timestamp`: the build's time, ISO 8601 or
    milliseconds since the epoch (`currentBuild.startTimeInMillis`)."""

    model_config = ConfigDict(extra="ignore")

    service: str = Field(min_length=1, max_length=63)
    environment: str = Field(min_length=1, max_length=63)
    version: str = Field(min_length=1, max_length=200)
    previous_version: str | None = Field(default=None, max_length=200)
    type: ChangeType = ChangeType.DEPLOYMENT
    job: str = Field(min_length=1, max_length=150)
    build_number: int = Field(ge=0)
    build_url: AnyHttpUrl | None = None
    user: str = Field(default="jenkins", min_length=1, max_length=320)
    result: str
    timestamp: datetime | int | None = None


def _when(value: datetime | int | None) -> datetime | None:
    if isinstance(value, int):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RejectedInput.on("timestamp", "milliseconds since the epoch") from None
    return value


def parse_jenkins(payload: dict[str, Any]) -> ChangeCreate:
    b = validate(JenkinsBuild, payload)
    if b.result.upper() != "SUCCESS":
        raise Ignored(f"build result '{b.result}'")
    return validate(
        ChangeCreate,
        dict(
            type=b.type, service=b.service, environment=b.environment, version=b.version,
            previous_version=b.previous_version, title=f"{b.job} #{b.build_number}",
            author=b.user, happened_at=_when(b.timestamp), url=b.build_url,
            external_id=f"{b.job}#{b.build_number}"[:200],
        ),
    )  # fmt: skip


# --- ArgoCD --------------------------------------------------------------------------


class ArgoCDSync(BaseModel):
    """The body of the argocd-notifications template above."""

    model_config = ConfigDict(extra="ignore")

    app: str = Field(min_length=1, max_length=253)
    revision: str = Field(min_length=1, max_length=200)
    status: str
    environment: str | None = Field(default=None, max_length=63)
    service: str | None = Field(default=None, max_length=63)
    previous_revision: str | None = Field(default=None, max_length=200)
    finished_at: datetime | None = None
    author: str | None = Field(default=None, max_length=320)
    labels: dict[str, str] = Field(default_factory=dict)
    url: AnyHttpUrl | None = None
    type: Literal["deployment", "config"] = "deployment"

    @field_validator("finished_at", "environment", "author", "service", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        """A template renders a missing value as an empty string."""
        return None if value == "" else value


def parse_argocd(payload: dict[str, Any]) -> ChangeCreate:
    s = validate(ArgoCDSync, payload)
    if s.status != "Succeeded":
        raise Ignored(f"sync phase '{s.status}'")
    service = s.service or s.labels.get(SERVICE_LABEL) or s.app
    when = s.finished_at.isoformat() if s.finished_at else ""
    return validate(
        ChangeCreate,
        dict(
            type=s.type, service=service, environment=s.environment or None,
            version=s.revision[:SHORT_SHA] if _sha(s.revision) else s.revision,
            previous_version=s.previous_revision, title=f"ArgoCD sync of {s.app}",
            author=s.author or "argocd", happened_at=s.finished_at, url=s.url,
            external_id=f"{s.app}:{s.revision}:{when}"[:200], commit_sha=_sha(s.revision),
        ),
    )  # fmt: skip
