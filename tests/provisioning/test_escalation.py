"""Escalation against the fake JIRA, on both stores: a five-component bundle that fails
at component 3 becomes three chained tickets carrying the failure, the completed
outputs, the earlier tickets and each task's own resolved setup (secrets masked); a run
that stopped halfway is finished without duplicates; JIRA down is a clear 5xx with
nothing recorded; permissions and states; what happens afterwards (complete, retry)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loom.auth.models import User
from loom.auth.principal import load_principal
from loom.demo.fakes.jira import FakeJira
from loom.provisioning import escalation
from loom.provisioning.models import FulfillmentTask
from loom.workers.runner import Outcome
from tests.conftest import ADMIN_EMAIL
from tests.provisioning.escalation_support import PUBLIC_URL, SECRET, Api
from tests.provisioning.waits_support import drain

FAILED_AT_3 = [Outcome.COMPLETED, Outcome.COMPLETED, Outcome.FAILED]


async def _failed_bundle(api: Api) -> str:
    request_id = await api.submit("web-stack", token=SECRET)
    assert await drain(api.runtime) == FAILED_AT_3
    return request_id


def _sent(jira: FakeJira) -> str:
    """Everything Loom sent JIRA, as text."""
    return "\n".join(call.body.decode() for call in jira.calls)


async def test_a_bundle_failing_at_component_3_becomes_three_chained_tickets(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await _failed_bundle(api)

    response = await api.post(f"{request_id}/escalate")

    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["state"] == "escalated"
    assert [t["state"] for t in detail["tasks"]] == ["completed", "completed", "escalated",
                                                     "escalated", "escalated"]  # fmt: skip
    ops1, ops2, sec1 = (jira.issues[k] for k in ("OPS-1", "OPS-2", "SEC-1"))
    assert len(jira.issues) == 3
    refs = [t["external_refs"] for t in detail["tasks"][2:]]
    assert [r["jira"] for r in refs] == ["OPS-1", "OPS-2", "SEC-1"]
    assert refs[0]["url"] == f"{jira.url}/browse/OPS-1" and refs[0]["jira_instance"] == "main"
    # Chained in task order: ticket N blocks ticket N+1.
    assert jira.blockers_of("OPS-2") == ["OPS-1"] and jira.blockers_of("SEC-1") == ["OPS-2"]
    assert jira.blockers_of("OPS-1") == []
    # Where each went: the failed item's issue type, then each task's own item, then
    # the settings (project OPS).
    assert (ops1.project, ops1.issue_type) == ("OPS", "Bug")
    assert (ops2.project, ops2.issue_type) == ("OPS", "Bug")  # app names none: the failed item's
    assert (sec1.project, sec1.issue_type) == ("SEC", "Task")
    task_ids = [t["id"] for t in detail["tasks"]]
    for issue, task_id in zip((ops1, ops2, sec1), task_ids[2:], strict=True):
        assert f"loom-task-{task_id}" in issue.labels and "loom-escalation" in issue.labels
        assert "loom-escalation-task3-attempt1" in issue.labels
    assert ops1.summary == "[Loom] Web stack: task 3 of 5 by hand: cache.create (esc-fail)"

    for issue in (ops1, ops2, sec1):  # every ticket: the failure and the completed outputs
        text = issue.description
        assert "||Failed task||3. cache.create (esc-fail)||" in text
        assert "|Error|redis quota exceeded for shop|" in text
        assert "vpc-shop" in text and "db.shop.internal" in text
        assert f"{PUBLIC_URL}/ui/requests/{request_id}" in text
        assert "Rita <rita@loom.test>" in text and "Otto <otto@loom.test>" in text
    # The earlier tickets, with their keys.
    assert "This is the first ticket of the escalation" in ops1.description
    assert "|OPS-1|" in ops2.description and "OPS-2" not in ops2.description.split("|OPS-1|")[0]
    assert "|OPS-1|" in sec1.description and "|OPS-2|" in sec1.description
    # Each its own setup, resolved by the worker's renderer.
    assert "Create the Redis cluster." in ops1.description
    assert "|reason|redis quota exceeded for shop|" in ops1.description
    assert "Deploy the application behind its cache." in ops2.description
    assert "|database|db.shop.internal|" in ops2.description
    assert "|cache|⟨known after task 3: cache_host⟩|" in ops2.description
    assert "|target|⟨known after task 4: app_url⟩|" in sec1.description
    assert "|outputs.fqdn|shop.example.com|" in sec1.description
    # Secrets: credential-named settings masked, the secret value never sent.
    assert (
        "|apiKey|••••|" in ops2.description and "|headers.Authorization|••••|" in ops2.description
    )
    assert "static-key-31337" not in _sent(jira)
    assert "signed with ••••" in ops1.description
    assert SECRET not in _sent(jira)

    logs = await api.logs(request_id)
    assert "task 3 (create) failed → escalated: escalated to OPS-1 (opened)" in logs
    assert "request failed → escalated: escalated to JIRA: OPS-1, OPS-2, SEC-1" in logs
    assert "escalation: OPS-2 blocks SEC-1" in logs
    [entry] = await api.audit("request.escalate")
    assert entry["actor_name"] == "otto@loom.test"
    assert [t["key"] for t in entry["after"]["tickets"]] == ["OPS-1", "OPS-2", "SEC-1"]


@pytest.mark.parametrize("jira_version", ["3"])
async def test_rest_v3_tickets_carry_an_atlassian_document(
    escalation_api: Api, jira: FakeJira
) -> None:
    request_id = await escalation_api.submit("cache")
    assert await drain(escalation_api.runtime) == [Outcome.FAILED]

    response = await escalation_api.post(f"{request_id}/escalate")

    assert response.status_code == 200, response.text
    [issue] = jira.issues.values()
    assert issue.description["type"] == "doc"
    text = json.dumps(issue.description, ensure_ascii=False)
    assert "redis quota exceeded for shop" in text and "first ticket of the escalation" in text


async def test_a_run_stopped_by_jira_halfway_is_finished_without_duplicates(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await _failed_bundle(api)
    jira.fail(500, method="POST", path="issueLink")  # the first link: OPS-1 and OPS-2 exist

    stopped = await api.post(f"{request_id}/escalate")

    assert stopped.status_code == 502, stopped.text
    error = stopped.json()["error"]
    assert error["code"] == "UPSTREAM_ERROR"
    assert error["message"].startswith("JIRA answered 500, the escalation stopped:")
    assert "fake fault 500" in error["message"]
    assert "finds the tickets opened so far (OPS-1, OPS-2) instead" in error["message"]
    assert sorted(jira.issues) == ["OPS-1", "OPS-2"]
    detail = await api.detail(request_id)  # nothing half-recorded
    assert detail["state"] == "failed"
    assert [t["state"] for t in detail["tasks"]][2:] == ["failed", "pending", "pending"]
    assert all("jira" not in t["external_refs"] for t in detail["tasks"])

    again = await api.post(f"{request_id}/escalate")

    assert again.status_code == 200, again.text
    assert sorted(jira.issues) == ["OPS-1", "OPS-2", "SEC-1"]  # none opened twice
    assert [t["external_refs"]["jira"] for t in again.json()["tasks"][2:]] == [
        "OPS-1", "OPS-2", "SEC-1"
    ]  # fmt: skip
    assert jira.blockers_of("OPS-2") == ["OPS-1"] and jira.blockers_of("SEC-1") == ["OPS-2"]
    logs = await api.logs(request_id)
    assert "task 4 (deploy) pending → escalated: escalated to OPS-2 (found again)" in logs
    assert any(line.startswith("escalation by otto@loom.test: JIRA answered 500") for line in logs)


async def test_a_ticket_whose_answer_was_lost_is_found_again(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await api.submit("cache")
    assert await drain(api.runtime) == [Outcome.FAILED]
    jira.fail(500, method="POST", path="/issue$", after_effect=True)  # made, answer lost

    lost = await api.post(f"{request_id}/escalate")

    assert lost.status_code == 502, lost.text
    assert "finds any ticket opened so far instead of opening it again" in lost.text
    assert sorted(jira.issues) == ["OPS-1"]
    again = await api.post(f"{request_id}/escalate")
    assert again.status_code == 200, again.text
    assert again.json()["tasks"][0]["external_refs"]["jira"] == "OPS-1"
    assert sorted(jira.issues) == ["OPS-1"]


async def test_a_crash_after_opening_the_tickets_opens_none_again(
    escalation_api: Api, jira: FakeJira
) -> None:
    """The process died after opening every ticket and before recording them."""
    api = escalation_api
    request_id = await _failed_bundle(api)
    async with api.runtime.sessions() as session, session.begin():
        principal = await load_principal(session, await _user_id(session, "otto@loom.test"))
        snapshot = await escalation._snapshot(
            session, api.runtime, principal, uuid.UUID(request_id)
        )
    await escalation._open_tickets(api.runtime, snapshot, [])  # ... and then it died
    assert sorted(jira.issues) == ["OPS-1", "OPS-2", "SEC-1"]
    assert (await api.detail(request_id))["state"] == "failed"

    response = await api.post(f"{request_id}/escalate")

    assert response.status_code == 200, response.text
    assert len(jira.calls_to("POST", "/issue$")) == 3  # found again, none opened twice
    assert [t["external_refs"]["jira"] for t in response.json()["tasks"][2:]] == [
        "OPS-1", "OPS-2", "SEC-1"
    ]  # fmt: skip


async def test_jira_down_is_a_clear_503_and_nothing_is_recorded(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await _failed_bundle(api)
    jira.stop()

    response = await api.post(f"{request_id}/escalate")

    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "UPSTREAM_UNAVAILABLE" and error["correlation_id"]
    assert error["message"].startswith("JIRA could not be reached, the escalation stopped:")
    assert ("nothing was recorded, the request is still failed, and the next escalation "
            "finds any ticket opened so far") in error["message"]  # fmt: skip
    detail = await api.detail(request_id)
    assert detail["state"] == "failed"
    assert [t["state"] for t in detail["tasks"]] == ["completed", "completed", "failed",
                                                     "pending", "pending"]  # fmt: skip
    assert await api.audit("request.escalate") == []


async def test_an_unconfigured_escalation_is_a_503_before_any_call(
    escalation_api: Api, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = escalation_api
    request_id = await api.submit("cache")
    assert await drain(api.runtime) == [Outcome.FAILED]
    settings = api.runtime.settings.integrations
    monkeypatch.setattr(settings.escalation, "project", "")
    monkeypatch.setattr(settings.jira["main"], "default_project", "")

    response = await api.post(f"{request_id}/escalate")

    assert response.status_code == 503, response.text
    assert "no JIRA project to open tickets in" in response.json()["error"]["message"]
    assert jira.calls == []


@pytest.mark.parametrize(
    ("who", "status"),
    [("vera@loom.test", 403), ("olga@loom.test", 404), ("rita@loom.test", 200),
     (ADMIN_EMAIL, 200)],
)  # fmt: skip
async def test_only_operators_of_the_team_escalate(
    escalation_api: Api, jira: FakeJira, who: str, status: int
) -> None:
    request_id = await escalation_api.submit("cache")
    assert await drain(escalation_api.runtime) == [Outcome.FAILED]

    response = await escalation_api.post(f"{request_id}/escalate", by=who)

    assert response.status_code == status, response.text
    assert len(jira.issues) == (1 if status == 200 else 0)


async def test_only_a_failed_or_stuck_request_is_escalated(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    running = await api.submit("net")
    refused = await api.post(f"{running}/escalate")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "only a failed or stuck request can be escalated (it is submitted)"
    )
    assert await drain(api.runtime) == [Outcome.COMPLETED]
    done = await api.post(f"{running}/escalate")
    assert done.status_code == 409 and "(it is completed)" in done.text

    stuck = await api.submit("cache")
    assert await drain(api.runtime) == [Outcome.FAILED]
    async with api.runtime.sessions() as session, session.begin():
        await session.execute(update(FulfillmentTask)
                              .where(FulfillmentTask.request_id == uuid.UUID(stuck))
                              .values(state="stuck"))  # fmt: skip
    assert (await api.post(f"{stuck}/escalate")).status_code == 200
    again = await api.post(f"{stuck}/escalate")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "the request is already escalated (tickets OPS-1)"
    assert len(jira.issues) == 1


async def test_an_idempotency_key_replays_the_first_answer(
    escalation_api: Api, jira: FakeJira
) -> None:
    request_id = await escalation_api.submit("cache")
    assert await drain(escalation_api.runtime) == [Outcome.FAILED]
    headers = {"Idempotency-Key": "escalate-once"}

    first = await escalation_api.post(f"{request_id}/escalate", headers=headers)
    second = await escalation_api.post(f"{request_id}/escalate", headers=headers)

    assert first.status_code == second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert len(jira.calls_to("POST", "/issue$")) == 1


async def test_the_team_completes_an_escalated_request_by_hand(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await _failed_bundle(api)
    early = await api.post(f"{request_id}/complete")
    assert early.status_code == 409
    assert "only an escalated request can be completed by hand (it is failed)" in early.text
    assert (await api.post(f"{request_id}/escalate")).status_code == 200
    assert (await api.post(f"{request_id}/complete", by="vera@loom.test")).status_code == 403

    response = await api.post(f"{request_id}/complete", json={"comment": "all done in JIRA"})

    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["state"] == "completed" and detail["error"] is None
    assert [t["state"] for t in detail["tasks"]] == ["completed"] * 5
    assert detail["tasks"][3]["external_refs"]["jira"] == "OPS-2"  # the ticket stays
    logs = await api.logs(request_id)
    assert "task 5 (record) escalated → completed: done by hand (SEC-1)" in logs
    assert "request escalated → completed: completed by hand: all done in JIRA" in logs


async def test_a_retry_gives_the_work_back_and_a_new_failure_opens_new_tickets(
    escalation_api: Api, jira: FakeJira
) -> None:
    api = escalation_api
    request_id = await _failed_bundle(api)
    assert (await api.post(f"{request_id}/escalate")).status_code == 200

    retried = await api.post(f"{request_id}/retry")

    assert retried.status_code == 200, retried.text
    states = [t["state"] for t in retried.json()["tasks"]]
    assert states == ["completed", "completed", "queued", "pending", "pending"]
    logs = await api.logs(request_id)
    assert ("retry: the work goes back to Loom; escalation tickets OPS-1, OPS-2, SEC-1 stay "
            "open in JIRA until someone closes them") in logs  # fmt: skip
    assert await drain(api.runtime) == [Outcome.FAILED]  # it fails again

    again = await api.post(f"{request_id}/escalate")

    assert again.status_code == 200, again.text
    assert [t["external_refs"]["jira"] for t in again.json()["tasks"][2:]] == [
        "OPS-3", "OPS-4", "SEC-2"
    ]  # fmt: skip
    assert "loom-escalation-task3-attempt2" in jira.issues["OPS-3"].labels


async def _user_id(session: AsyncSession, email: str) -> uuid.UUID:
    user_id = await session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return user_id
