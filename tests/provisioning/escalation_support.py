"""Fixtures of the escalation tests: the fake JIRA, two action types registered for the
test (`esc-step` completes with the outputs its config names, `esc-fail` fails with its
config's reason), a five-component bundle whose third component fails, people in two
teams, and the real worker to carry requests out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from loom.actions import registry
from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.registry import ActionType, action_types, register
from loom.app import create_app
from loom.auth.models import Membership, Team, User
from loom.auth.roles import Role
from loom.catalog.sync import sync
from loom.demo.fakes.jira import FakeJira
from loom.platform.runtime import Runtime
from tests.catalog.conftest import write_catalog
from tests.conftest import ADMIN_EMAIL, bearer, make_settings, token_for

PUBLIC_URL = "https://loom.example.com"
SECRET = "tok-9f8e7d6c5b4a"  # the bundle's secret form value: never in a ticket


class StepConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # the rest is setup a ticket shows

    outputs: dict[str, Any] = {}
    echo_secret: str = ""


class Step:
    """`esc-step`: completes with `outputs`; with `echo_secret`, also an `echo` output
    holding that secret form value (a remote system that echoed it back)."""

    config_model: ClassVar[type[BaseModel]] = StepConfig

    async def execute(self, ctx: ActionContext[StepConfig]) -> ActionResult:
        outputs = dict(ctx.config.outputs)
        if ctx.config.echo_secret:
            outputs["echo"] = f"signed with {ctx.secrets[ctx.config.echo_secret]}"
        return ctx.result(outputs, {"url": f"https://infra.example.com/{ctx.task_id}"})

    async def reconcile(self, ctx: ActionContext[StepConfig]) -> ActionResult | None:
        return None


class FailConfig(BaseModel):
    reason: str


class Fail:
    """`esc-fail`: fails with `reason`."""

    config_model: ClassVar[type[BaseModel]] = FailConfig

    async def execute(self, ctx: ActionContext[FailConfig]) -> ActionResult:
        raise ActionFailed(ctx.config.reason)

    async def reconcile(self, ctx: ActionContext[FailConfig]) -> ActionResult | None:
        return None


def _item(item_id: str, fields: str, actions: str, extra: str = "") -> str:
    return f"""\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: {item_id}, name: {item_id.title()}, category: tests}}
spec:
  form:
    fields:
      - {{id: name, type: string, required: true}}
{fields}{extra}  fulfillment:
    actions:
{actions}"""


CATALOG = {
    "catalog/net.yaml": _item("net", "", """\
      - id: create
        type: esc-step
        config: {outputs: {vpc_id: "vpc-{{ .current.name }}"}}
        outputs: [vpc_id]
"""),
    "catalog/db.yaml": _item("db", "      - {id: token, type: secret}\n", """\
      - id: create
        type: esc-step
        config: {outputs: {db_host: "db.{{ .current.name }}.internal"}, echo_secret: token}
        outputs: [db_host, echo]
"""),
    "catalog/cache.yaml": _item("cache", "", """\
      - id: create
        type: esc-fail
        description: Create the Redis cluster.
        config: {reason: "redis quota exceeded for {{ .current.name }}"}
        outputs: [cache_host]
""", "  escalation: {issueType: Bug}\n"),
    "catalog/app.yaml": _item("app", """\
      - {id: cache_host, type: string}
      - {id: db_host, type: string}
""", """\
      - id: deploy
        type: esc-step
        description: Deploy the application behind its cache.
        config:
          outputs: {app_url: "https://{{ .current.name }}.apps.example.com"}
          cache: "{{ .current.cache_host }}"
          database: "{{ .current.db_host }}"
          apiKey: static-key-31337
          headers: {Authorization: "Bearer ${secret:token}"}
        outputs: [app_url]
"""),
    "catalog/dns.yaml": _item("dns", "      - {id: target, type: string}\n", """\
      - id: record
        type: esc-step
        config: {outputs: {fqdn: "{{ .current.name }}.example.com"}, target: "{{ .current.target }}"}
        outputs: [fqdn]
""", "  escalation: {project: SEC}\n"),
    "bundles/web-stack.yaml": """\
apiVersion: loom/v1
kind: CatalogBundle
metadata: {id: web-stack, name: Web stack, category: tests}
spec:
  form:
    fields:
      - {id: name, type: string, required: true}
      - {id: token, type: secret, required: true}
  components:
    - {id: network, item: net}
    - {id: database, item: db, dependsOn: [network]}
    - {id: cache, item: cache, dependsOn: [database]}
    - id: app
      item: app
      dependsOn: [cache]
      inputs: {cache_host: "{{ .output.cache_host }}", db_host: "{{ .output.db_host }}"}
    - {id: dns, item: dns, dependsOn: [app], inputs: {target: "{{ .output.app_url }}"}}
""",
}  # fmt: skip

#: email → (team slug → role)
PEOPLE: dict[str, dict[str, Role]] = {
    "rita@loom.test": {"shop": Role.OPERATOR},  # the requester
    "otto@loom.test": {"shop": Role.OPERATOR},
    "vera@loom.test": {"shop": Role.VIEWER},
    "olga@loom.test": {"other": Role.OPERATOR},
}


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
def jira_version() -> Literal["2", "3"]:
    return "2"


@pytest.fixture
async def escalation_app(
    database_url: str,
    tmp_path: Path,
    jira: FakeJira,
    jira_version: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[FastAPI]:
    action_types()  # the built-in types first, then the test's, in a copy of the registry
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    register(ActionType("esc-step", "completes with its outputs", StepConfig, Step()))
    register(ActionType("esc-fail", "fails", FailConfig, Fail()))
    repo = write_catalog(tmp_path / "repo", CATALOG)
    main = {"base_url": jira.url, "email": jira.email, "token": jira.token,
            "api_version": jira_version}  # fmt: skip
    settings = make_settings(
        database_url, catalog={"source": str(repo)}, server={"public_url": PUBLIC_URL},
        integrations={"jira": {"main": main},
                      "escalation": {"jira_instance": "main", "project": "OPS"}},
    )  # fmt: skip
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        record = await sync(app.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        await _people(app)
        yield app


async def _people(app: FastAPI) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        teams = {slug: Team(org_id=org_id, slug=slug, name=slug.title())
                 for slug in ("shop", "other")}  # fmt: skip
        s.add_all(teams.values())
        for email, roles in PEOPLE.items():
            user = User(org_id=org_id, email=email, name=email.split("@")[0].title())
            s.add(user)
            await s.flush()
            for slug, role in roles.items():
                s.add(Membership(user_id=user.id, team_id=teams[slug].id, role=role))


@dataclass
class Api:
    """HTTP clients of the app, one per person."""

    app: FastAPI
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def as_(self, email: str) -> httpx.AsyncClient:
        if email not in self.clients:
            headers = bearer(await token_for(self.app, email))
            transport = httpx.ASGITransport(app=self.app)
            self.clients[email] = httpx.AsyncClient(
                transport=transport, base_url="http://loom.test", headers=headers
            )
        return self.clients[email]

    async def submit(self, item: str, **inputs: Any) -> str:
        client = await self.as_("rita@loom.test")
        body = {"item": item, "team": "shop", "inputs": {"name": "shop", **inputs}}
        response = await client.post("/api/v1/requests", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def post(self, path: str, *, by: str = "otto@loom.test", **kwargs: Any) -> Any:
        return await (await self.as_(by)).post(f"/api/v1/requests/{path}", **kwargs)

    async def detail(self, request_id: str) -> dict[str, Any]:
        response = await (await self.as_(ADMIN_EMAIL)).get(f"/api/v1/requests/{request_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def logs(self, request_id: str) -> list[str]:
        client = await self.as_(ADMIN_EMAIL)
        lines = (await client.get(f"/api/v1/requests/{request_id}/logs")).json()
        return [line["message"] for line in lines]

    async def audit(self, action: str) -> list[dict[str, Any]]:
        client = await self.as_(ADMIN_EMAIL)
        page = (await client.get("/api/v1/audit", params={"action": action})).json()
        return list(page["items"])


@pytest.fixture
async def escalation_api(escalation_app: FastAPI) -> AsyncIterator[Api]:
    found = Api(escalation_app)
    yield found
    for client in found.clients.values():
        await client.aclose()
