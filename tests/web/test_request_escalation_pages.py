"""Escalate and Complete on a request's page (operators of its team, as Retry and Abort):
a failed request's tasks become chained tickets in the fake JIRA, shown on its timeline;
JIRA down is explained on the page with nothing changed; the team completes it after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from loom.demo.fakes.jira import FakeJira
from loom.integrations.settings import IntegrationSettings
from loom.settings import Settings
from tests.conftest import Tenant
from tests.web.conftest import csrf_of
from tests.web.support import (
    SignedIn,
    catalog_settings,
    give_passwords,
    signed_in_as,
    submit_api,
    synced,
    work,
)
from tests.web.test_catalog_pages import parse
from tests.web.test_request_pages import buttons

__all__ = ["signed_in_as"]

TOKEN = "dns-api-t0ken-5581"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira() as fake:
        yield fake


@pytest.fixture
def settings(database_url: str, tmp_path: Path, jira: FakeJira) -> Settings:
    main = {"base_url": jira.url, "email": jira.email, "token": jira.token}
    integrations = IntegrationSettings.model_validate(
        {"jira": {"main": main}, "escalation": {"project": "OPS"}}
    )
    return catalog_settings(database_url, tmp_path).model_copy(
        update={"integrations": integrations}
    )


@pytest.fixture
async def failed(app: FastAPI, tenant: Tenant) -> str:
    """A two-task request whose first task failed; its page's URL."""
    await synced(app)
    await give_passwords(app, tenant)
    request_id = await submit_api(
        app, tenant.headers["operator-a"], "dns-record", name="shop", token=TOKEN
    )
    await work(app.state.runtime, request_id, error="HTTP 500 from the DNS API")
    return f"/ui/requests/{request_id}"


async def test_an_operator_escalates_then_completes_a_failed_request(
    failed: str, signed_in_as: SignedIn, jira: FakeJira
) -> None:
    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(failed)
    assert "escalate-button" in buttons(page) and "complete-button" not in buttons(page)

    escalated = await operator.post(f"{failed}/escalate", data={"csrf_token": csrf_of(page)})

    assert escalated.status_code == 303 and escalated.headers["location"] == failed
    page = await operator.get(failed)
    doc = parse(page.text)
    assert doc.by_id("request-state").text == "escalated"
    tasks = doc.by_id("timeline").find_all("li")
    assert [t.get("data-state") for t in tasks] == ["escalated", "escalated"]
    assert "OPS-1" in tasks[0].text and "OPS-2" in tasks[1].text
    assert jira.blockers_of("OPS-2") == ["OPS-1"]
    assert "|headers.X-Api-Token|••••|" in jira.issues["OPS-1"].description
    assert TOKEN not in "".join(c.body.decode() for c in jira.calls)
    assert buttons(page) == {"retry-button", "abort-button", "complete-button"}

    done = await operator.post(
        f"{failed}/complete", data={"csrf_token": csrf_of(page), "comment": "records added"}
    )

    assert done.status_code == 303
    doc = parse((await operator.get(failed)).text)
    assert doc.by_id("request-state").text == "completed"
    assert "completed by hand: records added" in doc.by_id("request-live").text


async def test_viewers_see_no_escalate_button_and_may_not_post_it(
    failed: str, signed_in_as: SignedIn, jira: FakeJira
) -> None:
    viewer = await signed_in_as("viewer-a@loom.test")
    page = await viewer.get(failed)
    assert buttons(page) == set()

    refused = await viewer.post(f"{failed}/escalate", data={"csrf_token": csrf_of(page)})

    assert refused.status_code == 403 and "requires the operator role" in refused.text
    assert jira.issues == {}


async def test_jira_down_is_explained_on_the_page_and_nothing_changes(
    failed: str, signed_in_as: SignedIn, jira: FakeJira
) -> None:
    operator = await signed_in_as("operator-a@loom.test")
    page = await operator.get(failed)
    jira.stop()

    answer = await operator.post(f"{failed}/escalate", data={"csrf_token": csrf_of(page)})

    assert answer.status_code == 503
    doc = parse(answer.text)
    assert doc.by_id("action-notice").text.startswith("JIRA could not be reached")
    assert doc.by_id("request-state").text == "failed"
    assert "escalate-button" in buttons(answer)  # it may be tried again
