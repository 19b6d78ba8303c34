"""JiraClient against the fake JIRA: create (v2 text, v3 ADF), "Blocks" links in JIRA's
real direction, JQL search on both endpoints with paging, status in Loom's words, auth
(API token, PAT, refused), JIRA's error bodies in the message, retries of reads only,
timeouts, the circuit breaker opening and closing, and credentials never shown."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from loom.actions.base import ActionFailed
from loom.audit.masking import MASK
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.jira_model import adf_texts
from loom.integrations.jira import JiraClient, TicketNotFound, jira_instance, loom_status
from loom.platform.http import HttpClients
from tests.integrations import jira_fixtures
from tests.integrations.jira_fixtures import FakeClock, MakeCtx, context, jira_settings

# The fixtures this module uses (assigned, so pytest finds them here).
clock, http, jira = jira_fixtures.clock, jira_fixtures.http, jira_fixtures.jira
make_ctx, settings = jira_fixtures.make_ctx, jira_fixtures.settings

FIELDS = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Open port 443"}


def client_of(ctx: Any, **kwargs: Any) -> JiraClient:
    return JiraClient.of(ctx, **{"backoff": (0.0,), **kwargs})


async def test_create_answers_the_key_and_the_browse_url(jira: FakeJira, make_ctx: MakeCtx) -> None:
    client = client_of(make_ctx())
    ticket = await client.create_issue({**FIELDS, "description": "Port 443 on lb-1"})
    assert (ticket.key, ticket.url) == ("OPS-1", f"{jira.url}/browse/OPS-1")
    [call] = jira.calls_to("POST", "/rest/api/2/issue$")
    assert call.json() == {"fields": {**FIELDS, "description": "Port 443 on lb-1"}}
    assert call.headers["accept"] == "application/json"
    assert jira.issues["OPS-1"].description == "Port 443 on lb-1"


async def test_v3_takes_an_atlassian_document_and_refuses_text(
    jira: FakeJira, clock: FakeClock
) -> None:
    settings = jira_settings(jira, api_version="3", browse_url="https://acme.atlassian.net")
    http = HttpClients.from_settings(settings, clock=clock)
    try:
        ctx = context(http, settings)
        client = client_of(ctx)
        document = {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Port 443"}]}]}  # fmt: skip
        ticket = await client.create_issue({**FIELDS, "description": document})
        assert ticket.url == "https://acme.atlassian.net/browse/OPS-1"
        assert jira.calls[-1].path == "/rest/api/3/issue"
        with pytest.raises(ActionFailed) as caught:
            await client.create_issue({**FIELDS, "description": "plain text"})
        assert "description: Operation value must be an Atlassian Document" in caught.value.message
    finally:
        await http.aclose()
    assert list(adf_texts(jira.issues["OPS-1"].description)) == ["Port 443"]


async def test_jira_errors_are_named_field_by_field_and_not_retryable(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    client = client_of(make_ctx())
    fields = {**FIELDS, "summary": "", "customfield_99999": 1}
    with pytest.raises(ActionFailed) as caught:
        await client.create_issue(fields)
    message = caught.value.message
    assert message.startswith(
        f"JIRA main: creating the ticket failed: POST {jira.url}/rest/api/2/issue answered 400: "
    )
    assert "summary: You must specify a summary of the issue." in message
    assert "customfield_99999: Field 'customfield_99999' cannot be set." in message
    assert caught.value.retryable is False
    assert jira.issues == {}


async def test_a_write_is_never_retried(jira: FakeJira, make_ctx: MakeCtx) -> None:
    jira.fail(500, times=3, method="POST")
    with pytest.raises(ActionFailed) as caught:
        await client_of(make_ctx()).create_issue(FIELDS)
    assert "answered 500: fake fault 500" in caught.value.message and caught.value.retryable
    assert len(jira.calls_to("POST", "/issue$")) == 1


async def test_a_read_is_retried_twice_on_5xx(jira: FakeJira, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    client = client_of(ctx)
    await client.create_issue(FIELDS)
    jira.fail(503, times=2, method="GET")
    assert (await client.status("OPS-1")).status == "open"
    assert len(jira.calls_to("GET", "/issue/OPS-1$")) == 3
    assert sum("trying again" in line.message for line in ctx.lines) == 2
    jira.fail(502, times=3, method="GET")
    with pytest.raises(ActionFailed) as caught:
        await client.status("OPS-1")
    assert "reading OPS-1 failed" in caught.value.message and "answered 502" in caught.value.message
    assert len(jira.calls_to("GET", "/issue/OPS-1$")) == 6


async def test_a_4xx_read_is_not_retried_and_a_404_is_ticket_not_found(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    with pytest.raises(TicketNotFound) as caught:
        await client_of(make_ctx()).status("OPS-404")
    assert caught.value.message == (
        "JIRA main: ticket OPS-404 not found (deleted, or Loom's account may not see it)"
    )
    assert len(jira.calls) == 1


async def test_a_slow_answer_times_out(jira: FakeJira, make_ctx: MakeCtx) -> None:
    jira.slow(2.0, method="POST")
    with pytest.raises(ActionFailed) as caught:
        await client_of(make_ctx(), timeout_seconds=0.3).create_issue(FIELDS)
    assert "no answer within 0.3 s" in caught.value.message and caught.value.retryable


async def test_the_circuit_opens_after_failures_and_closes_after_a_good_trial(
    jira: FakeJira, make_ctx: MakeCtx, clock: FakeClock
) -> None:
    client = client_of(make_ctx())
    await client.create_issue(FIELDS)
    jira.fail(500, times=3, method="GET")
    with pytest.raises(ActionFailed):  # three failures (the threshold) open the circuit
        await client.status("OPS-1")
    assert len(jira.calls_to("GET", "/issue/")) == 3
    breaker_key = f"jira:main 127.0.0.1:{jira.server.port}"
    assert client.ctx.http.breaker_states()[breaker_key] == "open"
    with pytest.raises(ActionFailed) as caught:
        await client.status("OPS-1")
    assert "recent calls failed" in caught.value.message
    assert len(jira.calls_to("GET", "/issue/")) == 3  # refused before any byte was sent
    clock.now += 30  # half-open: one trial call goes through, and succeeds
    assert (await client.status("OPS-1")).key == "OPS-1"
    assert client.ctx.http.breaker_states()[breaker_key] == "closed"


async def test_link_blocks_makes_the_first_block_the_second(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    client = client_of(make_ctx())
    first = await client.create_issue(FIELDS)
    second = await client.create_issue(FIELDS)
    await client.link_blocks(first.key, second.key)
    await client.link_blocks(first.key, second.key)  # repeating it is harmless
    assert jira.blockers_of("OPS-2") == ["OPS-1"] and jira.blockers_of("OPS-1") == []
    links = (await client.issue("OPS-2", ["issuelinks"]))["fields"]["issuelinks"]
    assert [(link["type"]["inward"], link["inwardIssue"]["key"]) for link in links] == [
        ("is blocked by", "OPS-1")
    ]


async def test_search_on_cloud_pages_with_next_page_token(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    client = client_of(make_ctx())
    for _ in range(5):
        await client.create_issue({**FIELDS, "labels": ["loom-task-7"]})
    await client.create_issue(FIELDS)
    jira.max_page = 2
    found = await client.search('labels = "loom-task-7" ORDER BY created ASC', ["summary"])
    assert [issue["key"] for issue in found] == ["OPS-1", "OPS-2", "OPS-3", "OPS-4", "OPS-5"]
    calls = jira.calls_to("GET", "/rest/api/2/search/jql$")
    assert len(calls) == 3 and "nextPageToken" in calls[1].query
    assert not jira.calls_to("GET", "/search$")


async def test_search_on_data_center_pages_with_start_at(jira: FakeJira, clock: FakeClock) -> None:
    settings = jira_settings(jira, auth="pat", token=jira.pat, email="")
    http = HttpClients.from_settings(settings, clock=clock)
    try:
        client = client_of(context(http, settings))
        for _ in range(3):
            await client.create_issue({**FIELDS, "labels": ["x"]})
        jira.max_page = 2
        found = await client.search('labels = "x"', ["summary"], limit=10)
    finally:
        await http.aclose()
    assert [issue["key"] for issue in found] == ["OPS-1", "OPS-2", "OPS-3"]
    assert [c.query["startAt"] for c in jira.calls_to("GET", "/search$")] == [["0"], ["2"]]
    assert all(c.headers["authorization"] == f"Bearer {jira.pat}" for c in jira.calls)


async def test_search_falls_back_when_search_jql_is_missing(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    jira.search_jql = False
    client = client_of(make_ctx())
    await client.create_issue({**FIELDS, "labels": ["x"]})
    assert [i["key"] for i in await client.search('labels = "x"')] == ["OPS-1"]


async def test_a_bad_query_fails_with_jiras_message(jira: FakeJira, make_ctx: MakeCtx) -> None:
    with pytest.raises(ActionFailed) as caught:
        await client_of(make_ctx()).search("project = NOPE")
    assert "The value 'NOPE' does not exist for the field 'project'." in caught.value.message


async def test_status_in_loom_words(jira: FakeJira, make_ctx: MakeCtx) -> None:
    client = client_of(make_ctx())
    await client.create_issue(FIELDS)
    assert (await client.status("OPS-1")).status == "open"
    jira.set_status("OPS-1", "In Progress")
    status = await client.status("OPS-1")
    assert (status.status, status.raw_status, status.resolution) == (
        "in_progress",
        "In Progress",
        None,
    )
    jira.set_status("OPS-1", "Done", "Won't Do")
    status = await client.status("OPS-1")
    assert (status.status, status.raw_status, status.resolution) == ("done", "Done", "Won't Do")
    assert status.url == f"{jira.url}/browse/OPS-1"


@pytest.mark.parametrize(
    ("name", "category", "expected"),
    [
        ("To Do", "new", "open"),
        ("Backlog", "undefined", "open"),
        ("In Review", "indeterminate", "in_progress"),
        ("Shipped", "done", "done"),
        ("Closed", "indeterminate", "done"),  # named in done_statuses
        ("closed", "new", "done"),
    ],
)
def test_loom_status_by_category_and_done_names(name: str, category: str, expected: str) -> None:
    status = {"name": name, "statusCategory": {"key": category}}
    assert loom_status(status, ["Done", "Closed", "Resolved"]) == expected


async def test_wrong_credentials_are_refused_and_never_shown(
    jira: FakeJira, clock: FakeClock
) -> None:
    settings = jira_settings(jira, token="wrong-token-31f0")
    http = HttpClients.from_settings(settings, clock=clock)
    try:
        ctx = context(http, settings)
        with pytest.raises(ActionFailed) as caught:
            await client_of(ctx).create_issue(FIELDS)
    finally:
        await http.aclose()
    assert "answered 401: Client must be authenticated" in caught.value.message
    shown = caught.value.message + "\n".join(line.message for line in ctx.lines)
    assert "wrong-token-31f0" not in shown
    assert ctx.mask("Basic " + _basic(jira.email, "wrong-token-31f0")) == f"Basic {MASK}"


def _basic(email: str, token: str) -> str:
    return base64.b64encode(f"{email}:{token}".encode()).decode()


async def test_a_token_echoed_in_an_error_body_is_masked(jira: FakeJira, make_ctx: MakeCtx) -> None:
    jira.fail(400, method="POST", body={"errorMessages": [f"bad token {jira.token}"], "errors": {}})
    ctx = make_ctx()
    with pytest.raises(ActionFailed) as caught:
        await client_of(ctx).create_issue(FIELDS)
    assert f"bad token {MASK}" in caught.value.message and jira.token not in caught.value.message


def test_instances_are_chosen_by_the_common_rule(jira: FakeJira) -> None:
    settings = jira_settings(jira)
    assert jira_instance(settings)[0] == "main"
    with pytest.raises(ActionFailed) as caught:
        jira_instance(settings, "sec")
    assert caught.value.message == "no JIRA instance named 'sec' (configured: main)"


async def test_an_instance_without_token_or_with_a_bad_url_fails_clearly(
    jira: FakeJira, clock: FakeClock
) -> None:
    for instance, message in (
        ({"token": "", "email": ""}, "JIRA instance 'main' has no token"),
        ({"base_url": "acme.atlassian.net"}, "base_url 'acme.atlassian.net' is not an http(s) URL"),
    ):
        settings = jira_settings(jira, **instance)
        http = HttpClients.from_settings(settings, clock=clock)
        with pytest.raises(ActionFailed) as caught:
            client_of(context(http, settings))
        assert message in caught.value.message
        await http.aclose()


async def test_a_ticket_moved_to_done_through_transitions_reads_as_done(
    jira: FakeJira, make_ctx: MakeCtx
) -> None:
    client = client_of(make_ctx())
    await client.create_issue(FIELDS)
    auth = (jira.email, jira.token)
    async with httpx.AsyncClient(base_url=f"{jira.url}/rest/api/3", auth=auth) as raw:
        offered = (await raw.get("/issue/OPS-1/transitions")).json()["transitions"]
        assert [(t["id"], t["to"]["statusCategory"]["key"]) for t in offered] == [
            ("21", "indeterminate"),
            ("31", "done"),
        ]
        moved = await raw.post("/issue/OPS-1/transitions", json={"transition": {"id": "31"}})
        assert (moved.status_code, moved.content) == (204, b"")
        again = await raw.post("/issue/OPS-1/transitions", json={"transition": {"id": "31"}})
        assert again.json()["errorMessages"] == ["Transition id '31' is not valid for this issue."]
    status = await client.status("OPS-1")
    assert (status.status, status.raw_status, status.resolution) == ("done", "Done", "Done")
