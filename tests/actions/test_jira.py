"""jira-ticket against the fake JIRA: the ticket's fields and default description (form
values, requester, link back) in v2 and v3, the "Blocks" link to the request's previous
ticket, labels that let `reconcile` find a crashed attempt's ticket (no duplicate),
remote 4xx/5xx, timeouts, the circuit breaker, `waitFor: done` and its `check`, config
rules, and credentials never shown."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.base import ActionContext, ActionFailed, run_action, run_reconcile
from loom.actions.builtin import JiraTicketConfig
from loom.actions.jira import JiraTicket
from loom.actions.registry import action_types
from loom.audit.masking import MASK
from loom.catalog.loader import load_files
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.jira_model import adf_texts
from loom.platform.http import HttpClients
from tests.integrations import jira_fixtures
from tests.integrations.jira_fixtures import FakeClock, context, jira_settings

clock, http, jira = jira_fixtures.clock, jira_fixtures.http, jira_fixtures.jira
settings = jira_fixtures.settings

REQUEST_ID = uuid.UUID(int=0xA1)
TASK_ID = uuid.UUID(int=0xB2)
ACTION = JiraTicket()
INPUTS = {"name": "lb-1", "public": True, "ports": [80, 443], "owner": {"team": "edge"}}
REQUESTER = {"email": "ada@acme.test", "name": "Ada Lovelace", "teams": ["edge"]}


def ctx_of(http: HttpClients, settings: Any, config: dict[str, Any], **extra: Any) -> Any:
    values = {"inputs": INPUTS, "requester": REQUESTER, **extra}
    return context(http, settings, config=JiraTicketConfig.model_validate(config), **values)


@pytest.fixture
def make(http: HttpClients, settings: Any) -> Any:
    def build(config: dict[str, Any] | None = None, **extra: Any) -> ActionContext[Any]:
        return ctx_of(http, settings, {"summary": "Review lb-1", **(config or {})}, **extra)

    return build


async def test_a_ticket_carries_the_form_the_requester_and_a_link_back(
    jira: FakeJira, make: Any
) -> None:
    ctx = make({"labels": ["loom", "load-balancer"]})
    result = await run_action(ACTION, ctx)
    issue = jira.issues["OPS-1"]
    assert (issue.project, issue.issue_type, issue.summary) == ("OPS", "Task", "Review lb-1")
    assert issue.labels == ["loom", "load-balancer", f"loom-task-{TASK_ID}",
                            f"loom-request-{REQUEST_ID}"]  # fmt: skip
    assert issue.description == (
        "Requested through Loom by Ada Lovelace <ada@acme.test>.\n\n"
        "||Field||Value||\n|name|lb-1|\n|public|yes|\n|ports|80, 443|\n|owner.team|edge|\n\n"
        f"[Loom request {REQUEST_ID}|https://loom.acme.test/ui/requests/{REQUEST_ID}]"
    )
    url = f"{jira.url}/browse/OPS-1"
    assert result.outputs == {"ticketKey": "OPS-1", "ticketUrl": url}
    assert result.external_refs == {"jira": "OPS-1", "url": url, "jira_instance": "main"}
    assert result.wait is None
    assert f"created OPS-1: {url}" in [line.message for line in result.logs]


async def test_on_rest_v3_the_description_is_an_atlassian_document(
    jira: FakeJira, clock: FakeClock
) -> None:
    settings = jira_settings(jira, api_version="3")
    http = HttpClients.from_settings(settings, clock=clock)
    try:
        await run_action(ACTION, ctx_of(http, settings, {"summary": "Review lb-1"}))
        await run_action(ACTION, ctx_of(http, settings, {"summary": "s", "description": "a\n\nb"}))
    finally:
        await http.aclose()
    texts = list(adf_texts(jira.issues["OPS-1"].description))
    assert texts[:3] == [
        "Requested through Loom by Ada Lovelace <ada@acme.test>.",
        "Field",
        "Value",
    ]
    assert texts[3:5] == ["name", "lb-1"] and texts[-1] == f"Loom request {REQUEST_ID}"
    assert list(adf_texts(jira.issues["OPS-2"].description)) == ["a", "b"]
    assert jira.calls_to("POST", "/rest/api/3/issue$")


async def test_every_configured_field_reaches_jira(jira: FakeJira, make: Any) -> None:
    config = {
        "project": "SEC",
        "issueType": "Review",
        "summary": "  Review\n lb-1  ",
        "description": "Check the WAF rules.",
        "components": [],
        "priority": "High",
        "customFields": {"customfield_10042": "eu-west-1"},
    }
    await run_action(ACTION, make(config))
    sent = jira.calls_to("POST", "/issue$")[0].json()["fields"]
    assert sent["project"] == {"key": "SEC"} and sent["issuetype"] == {"name": "Review"}
    assert sent["summary"] == "Review lb-1"  # JIRA refuses line breaks in a summary
    assert sent["description"] == "Check the WAF rules."
    assert sent["priority"] == {"name": "High"} and sent["customfield_10042"] == "eu-west-1"
    assert "components" not in sent
    await run_action(ACTION, make({"components": ["Network"]}))
    assert jira.issues["OPS-1"].components == ["Network"]


async def test_the_previous_ticket_of_the_request_blocks_the_new_one(
    jira: FakeJira, make: Any
) -> None:
    first = await run_action(ACTION, make())
    refs = [{"url": "https://x"}, first.external_refs, {"record": "r-1"}]
    second = await run_action(ACTION, make(earlier_refs=refs))
    assert second.outputs["ticketKey"] == "OPS-2"
    assert jira.blockers_of("OPS-2") == ["OPS-1"]
    assert "OPS-1 blocks OPS-2" in [line.message for line in second.logs]
    await run_action(ACTION, make({"linkToPrevious": False}, earlier_refs=refs))
    other = {"jira": "SEC-9", "jira_instance": "security"}
    fourth = await run_action(ACTION, make(earlier_refs=[*refs, other]))
    assert jira.blockers_of("OPS-3") == [] and jira.blockers_of("OPS-4") == []
    assert "not linked to SEC-9: it is on JIRA instance 'security'" in [
        line.message for line in fourth.logs
    ]


async def test_a_crashed_attempt_is_found_by_its_label_not_created_twice(
    jira: FakeJira, make: Any
) -> None:
    jira.fail(502, method="POST", path="/issue$", after_effect=True, body="Bad Gateway")
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, make())
    assert "answered 502: Bad Gateway" in caught.value.message and caught.value.retryable
    assert len(jira.labelled(f"loom-task-{TASK_ID}")) == 1  # it took effect all the same

    found = await run_reconcile(ACTION, make(attempt=2))
    assert found is not None and found.outputs["ticketKey"] == "OPS-1"
    assert len(jira.calls_to("POST", "/issue$")) == 1 and len(jira.issues) == 1
    [search] = jira.calls_to("GET", "/search/jql$")
    assert search.query["jql"] == [f'labels = "loom-task-{TASK_ID}" ORDER BY created ASC']


async def test_reconcile_finds_nothing_for_an_attempt_that_created_nothing(
    jira: FakeJira, make: Any
) -> None:
    jira.fail(500, method="POST", path="/issue$")
    with pytest.raises(ActionFailed):
        await run_action(ACTION, make())
    ctx = make(attempt=2)
    assert await run_reconcile(ACTION, ctx) is None
    assert f"no ticket labelled loom-task-{TASK_ID}: creating it" in [
        line.message for line in ctx.lines
    ]
    assert (await run_action(ACTION, ctx)).outputs["ticketKey"] == "OPS-1"


async def test_a_link_that_failed_is_made_when_the_retry_finds_the_ticket(
    jira: FakeJira, make: Any
) -> None:
    await run_action(ACTION, make(task_id=uuid.UUID(int=1)))  # an earlier task's ticket
    refs = [{"jira": "OPS-1", "jira_instance": "main"}]
    jira.fail(500, path="/issueLink")
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, make(earlier_refs=refs))
    assert caught.value.message.startswith("OPS-2 was created but not linked to OPS-1: JIRA main:")
    assert jira.blockers_of("OPS-2") == []
    await run_reconcile(ACTION, make(attempt=2, earlier_refs=refs))
    assert jira.blockers_of("OPS-2") == ["OPS-1"] and len(jira.issues) == 2


async def test_jira_refusing_the_ticket_fails_naming_the_field(jira: FakeJira, make: Any) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, make({"components": ["Databases"]}))
    assert "components: Component name 'Databases' is not valid" in caught.value.message
    assert caught.value.retryable is False


async def test_no_project_anywhere_fails_before_calling(jira: FakeJira, clock: FakeClock) -> None:
    settings = jira_settings(jira, default_project="")
    http = HttpClients.from_settings(settings, clock=clock)
    try:
        with pytest.raises(ActionFailed) as caught:
            await run_action(ACTION, ctx_of(http, settings, {"summary": "s"}))
    finally:
        await http.aclose()
    assert "no JIRA project: set the action's `project`" in caught.value.message
    assert jira.calls == []


async def test_a_slow_jira_ends_with_the_task_deadline(jira: FakeJira, make: Any) -> None:
    jira.slow(3.0, method="POST")
    ctx = make(deadline=None)
    ctx.deadline = ctx.clock() + 0.6
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, ctx)
    assert "no answer within" in caught.value.message and caught.value.retryable


async def test_the_circuit_opens_and_closes_for_the_action(
    jira: FakeJira, make: Any, clock: FakeClock
) -> None:
    jira.fail(500, times=3, method="POST")
    for _ in range(3):
        with pytest.raises(ActionFailed):
            await run_action(ACTION, make())
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, make())
    assert "recent calls failed" in caught.value.message and caught.value.retryable
    assert len(jira.calls) == 3
    clock.now += 30
    assert (await run_action(ACTION, make())).outputs["ticketKey"] == "OPS-1"


async def test_wait_for_done_waits_until_the_ticket_is_done(jira: FakeJira, make: Any) -> None:
    result = await run_action(ACTION, make({"waitFor": "done"}))
    assert result.wait is not None
    assert (result.wait.kind, result.wait.state) == ("jira-status", {"instance": "main",
                                                                     "key": "OPS-1"})  # fmt: skip
    assert result.wait.reason == "waiting for OPS-1 to be done in JIRA"
    ctx = make({"waitFor": "done"})
    waiting = await ACTION.check(ctx, result.wait.state)
    assert (waiting.status, waiting.reason) == ("waiting", "OPS-1 is To Do")
    jira.set_status("OPS-1", "In Progress")
    assert (await ACTION.check(ctx, result.wait.state)).reason == "OPS-1 is In Progress"
    jira.set_status("OPS-1", "Done", "Won't Do")
    done = await ACTION.check(ctx, result.wait.state)
    assert done.status == "done"
    assert done.outputs == {"ticketKey": "OPS-1", "ticketUrl": f"{jira.url}/browse/OPS-1",
                            "ticketStatus": "Done"}  # fmt: skip
    assert done.external_refs["jira"] == "OPS-1"


async def test_check_fails_for_a_deleted_ticket_and_raises_while_jira_is_down(
    jira: FakeJira, make: Any
) -> None:
    ctx = make({"waitFor": "done"})
    gone = await ACTION.check(ctx, {"instance": "main", "key": "OPS-77"})
    assert gone.status == "failed" and "ticket OPS-77 not found" in str(gone.error)
    jira.fail(503, times=3, method="GET")
    with pytest.raises(ActionFailed):  # the wait framework counts this as still waiting
        await ACTION.check(ctx, {"instance": "main", "key": "OPS-77"})


async def test_the_token_is_never_in_a_log_line(jira: FakeJira, make: Any) -> None:
    ctx = make()
    jira.fail(400, method="POST", body={"errorMessages": [f"token {jira.token}?"], "errors": {}})
    with pytest.raises(ActionFailed) as caught:
        await run_action(ACTION, ctx)
    await run_action(ACTION, ctx)
    shown = caught.value.message + "".join(line.message for line in ctx.lines)
    assert jira.token not in shown and MASK in caught.value.message


# --- config -------------------------------------------------------------------------


def test_jira_ticket_is_registered_with_its_executor() -> None:
    action_type = action_types()["jira-ticket"]
    assert isinstance(action_type.executor, JiraTicket)
    assert action_type.executor.config_model is action_type.config_model is JiraTicketConfig


def test_config_defaults() -> None:
    config = JiraTicketConfig.model_validate({"summary": "s"})
    assert (config.instance, config.project, config.issue_type) == ("", "", "Task")
    assert (config.wait_for, config.link_to_previous, config.custom_fields) == ("created", True, {})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": ["two words"]}, "label 'two words': JIRA labels are single words"),
        ({"labels": [""]}, "label '': JIRA labels are single words"),
        ({"customFields": {"summary": "x"}}, "'summary' is not a custom field id"),
        ({"customFields": {"customfield_x": 1}}, "'customfield_x' is not a custom field id"),
        ({"waitFor": "resolved"}, "Input should be 'created' or 'done'"),
        ({"summary": ""}, "String should have at least 1 character"),
    ],
)
def test_bad_config_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JiraTicketConfig.model_validate({"summary": "s", **change})
    assert message in str(caught.value)


def test_templated_labels_are_checked_once_rendered() -> None:
    config = JiraTicketConfig.model_validate({"summary": "s", "labels": ["{{ .current.team }}"]})
    assert config.labels == ["{{ .current.team }}"]


def test_the_catalog_refuses_a_bad_jira_config_naming_the_key() -> None:
    document = """\
apiVersion: loom/v1
kind: CatalogItem
metadata: {id: thing, name: Thing, category: misc}
spec:
  form:
    fields: [{id: team, type: string}]
  fulfillment:
    actions:
      - id: ticket
        type: jira-ticket
        config:
          summary: "Thing for {{ .current.team }}"
          labels: [ok, "{{ .current.team }}", not ok]
          customFields: {priority: High}
          waitFor: resolved
"""
    catalog = load_files([("catalog/thing.yaml", document)])
    assert [f"{p.path}: {p.message}" for p in catalog.problems] == [
        "spec.fulfillment.actions[0].config.labels: label 'not ok': JIRA labels are single words",
        "spec.fulfillment.actions[0].config.customFields: "
        "'priority' is not a custom field id (customfield_<number>)",
        "spec.fulfillment.actions[0].config.waitFor: Input should be 'created' or 'done'",
    ]
