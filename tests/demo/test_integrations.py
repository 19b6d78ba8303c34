"""Which demo integrations run, and how the app uses them: a fake for each system with no
real instance when the demo is on (never otherwise), registered as that system's
`default` instance with working credentials, escalations sent to its operations project
unless one is configured, and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loom.app import create_app
from loom.demo import EXTRAS_KEY
from loom.demo.fakes.jira import FakeJira
from loom.demo.integrations import DemoIntegrations, systems_to_fake
from loom.settings import Settings
from tests.conftest import make_settings

JIRA_MAIN = {"base_url": "https://acme.atlassian.net", "email": "bot@acme.example", "token": "t"}


def _settings(**values: Any) -> Settings:
    return Settings(env="test", **values)


#: settings → the systems faked
CASES = {
    "off": ({}, ()),
    "off-with-jira": ({"integrations": {"jira": {"main": JIRA_MAIN}}}, ()),
    "demo-data": ({"demo_data": True}, ("jira", "github", "terraform")),
    "demo-fakes": ({"integrations": {"demo_fakes": True}}, ("jira", "github", "terraform")),
    "real-jira": (
        {"demo_data": True, "integrations": {"jira": {"main": JIRA_MAIN}}},
        ("github", "terraform"),
    ),
    "real-github-terraform": (
        {
            "demo_data": True,
            "integrations": {
                "github": {"default": {"token": "ghp_x"}},
                "terraform": {"tfe": {"base_url": "https://tfe.acme.example", "token": "x"}},
            },
        },
        ("jira",),
    ),
}


@pytest.mark.parametrize(("values", "faked"), CASES.values(), ids=CASES.keys())
def test_a_fake_runs_only_for_a_system_without_a_real_instance(
    values: dict[str, Any], faked: tuple[str, ...]
) -> None:
    assert systems_to_fake(_settings(**values)) == faked


@pytest.fixture
def real_jira() -> Iterator[FakeJira]:
    """Stands in for a real JIRA the operator configured."""
    with FakeJira() as jira:
        yield jira


async def _running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings, background=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def demo_app(database_url: str) -> AsyncIterator[FastAPI]:
    async for app in _running(make_settings(database_url, demo_data=True)):
        yield app


async def test_the_fakes_are_the_default_instances_with_working_credentials(
    demo_app: FastAPI,
) -> None:
    runtime = demo_app.state.runtime
    demo: DemoIntegrations = runtime.extras[EXTRAS_KEY]
    assert demo.systems == ["JIRA", "GitHub", "Terraform"]
    integrations = runtime.settings.integrations
    assert set(integrations.jira) == set(integrations.github) == {"default"}
    assert set(integrations.terraform) == {"default"}
    jira, github, terraform = (
        integrations.jira["default"],
        integrations.github["default"],
        integrations.terraform["default"],
    )
    assert jira.base_url == demo.jira.url and github.api_url == demo.github.api_url  # type: ignore[union-attr]
    assert integrations.escalation.project == "OPS"
    async with httpx.AsyncClient(timeout=5) as client:
        issue = f"{jira.base_url}/rest/api/2/issue/OPS-1"
        assert (await client.get(issue)).status_code == 401
        auth = (jira.email, jira.token.get_secret_value())
        assert (await client.get(issue, auth=auth)).status_code == 404  # signed in; no ticket
        repo = f"{github.api_url}/repos/acme/k8s-gitops"
        token = {"Authorization": f"Bearer {github.token.get_secret_value()}"}
        assert (await client.get(repo, headers=token)).json()["default_branch"] == "main"
        workspace = f"{terraform.base_url}/api/v2/organizations/acme/workspaces/staging-shop"
        token = {"Authorization": f"Bearer {terraform.token.get_secret_value()}"}
        found = await client.get(workspace, headers=token)
        assert found.json()["data"]["attributes"]["name"] == "staging-shop"


async def test_a_real_instance_turns_its_fake_off(database_url: str, real_jira: FakeJira) -> None:
    main = {"base_url": real_jira.url, "email": real_jira.email, "token": real_jira.token}
    settings = make_settings(
        database_url,
        demo_data=True,
        integrations={"jira": {"main": main}, "escalation": {"project": "SEC"}},
    )
    async for app in _running(settings):
        runtime = app.state.runtime
        demo: DemoIntegrations = runtime.extras[EXTRAS_KEY]
        assert demo.jira is None and demo.systems == ["GitHub", "Terraform"]
        integrations = runtime.settings.integrations
        assert set(integrations.jira) == {"main"}
        assert integrations.jira["main"].base_url == real_jira.url
        assert integrations.escalation.project == "SEC"
        assert set(integrations.github) == {"default"}


async def test_without_the_demo_nothing_runs(database_url: str) -> None:
    settings = make_settings(database_url)
    async for app in _running(settings):
        runtime = app.state.runtime
        assert EXTRAS_KEY not in runtime.extras
        assert runtime.settings.integrations == settings.integrations


async def test_the_fakes_stop_with_the_app(database_url: str) -> None:
    async for app in _running(make_settings(database_url, demo_data=True)):
        demo: DemoIntegrations = app.state.runtime.extras[EXTRAS_KEY]
        urls = demo.urls
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(urls[0] + "/browse/OPS-1")).status_code == 404
    assert EXTRAS_KEY not in app.state.runtime.extras
    async with httpx.AsyncClient(timeout=5) as client:
        for url in urls:
            with pytest.raises(httpx.ConnectError):
                await client.get(url)


def test_covers_only_the_fakes_own_addresses() -> None:
    demo = DemoIntegrations.launch(("jira",))
    try:
        assert demo.jira is not None
        assert demo.covers(f"{demo.jira.url}/browse/OPS-1")
        assert demo.covers(demo.jira.url)
        assert not demo.covers(f"{demo.jira.url}0/browse/OPS-1")  # another port
        assert not demo.covers("https://acme.atlassian.net/browse/OPS-1")
        assert not demo.covers(None)
    finally:
        demo.close()
