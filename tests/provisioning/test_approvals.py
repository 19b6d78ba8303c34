"""Approvals: a catalog item's `spec.approval` becomes an approval task before its
actions; eligible approvers (team members at the minimum role, named people) decide
through the API, never on their own request and once each; a quorum completes the task,
one rejection fails the request (a retry asks again), the deadline expires it, and
`autoApproveIf` approves it at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from loom.db.types import utcnow
from loom.workers.runner import Outcome
from loom.workers.wait_checks import check_due
from tests.provisioning.waits_support import Api, drain


async def _decide(
    loom_api: Api, who: str, request_id: str, decision: str, comment: str = ""
) -> httpx.Response:
    client = await loom_api.as_(who)
    body = {"comment": comment} if comment else None
    return await client.post(f"/api/v1/requests/{request_id}/{decision}", json=body)


async def _awaiting(loom_api: Api, who: str, mine: bool = True) -> list[dict[str, Any]]:
    client = await loom_api.as_(who)
    response = await client.get("/api/v1/approvals", params={"mine": str(mine).lower()})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _waiting_for_approval(loom_api: Api, item: str = "gated", **inputs: Any) -> str:
    request_id = await loom_api.submit(item, **inputs)
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    return request_id


async def test_the_approval_step_comes_before_the_items_actions(loom_api: Api) -> None:
    client = await loom_api.as_("rita@loom.test")
    plan = await client.post("/api/v1/requests/plan", json={"item": "gated", "team": "shop",
                                                            "inputs": {"name": "shop"}})  # fmt: skip
    assert plan.status_code == 200, plan.text
    tasks = plan.json()["tasks"]
    assert [(t["action_id"], t["action_type"]) for t in tasks] == [
        ("approval", "approval"),
        ("after", "test-step"),
    ]
    assert tasks[0]["config"]["teams"] == [{"team": "payments", "minRole": "operator"}]


async def test_an_eligible_approver_lets_the_request_go_on(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api)
    waiting = await loom_api.detail(request_id)
    assert waiting["state"] == "processing"
    assert waiting["waiting_for"] == (
        "waiting for approval by team payments or carol@loom.test (0 of 1)"
    )
    # A payments operator outside the requester's team sees it awaiting them.
    [listed] = await _awaiting(loom_api, "alice@loom.test")
    assert listed["request_id"] == request_id and listed["requester"] == "rita@loom.test"
    assert listed["inputs"] == {"name": "shop", "size": "large"}
    assert listed["required"] == 1 and listed["approvals"] == 0

    response = await _decide(loom_api, "alice@loom.test", request_id, "approve", "looks fine")
    assert response.status_code == 200, response.text
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    done = await loom_api.detail(request_id)
    assert done["state"] == "completed"
    assert done["tasks"][0]["external_refs"] == {"approved_by": "alice@loom.test"}
    assert "approved by alice@loom.test: looks fine" in await loom_api.logs(request_id)
    assert await _awaiting(loom_api, "alice@loom.test") == []
    audit = await (await loom_api.as_("admin@loom.test")).get(
        "/api/v1/audit", params={"action": "request.approve", "target_id": request_id}
    )
    [entry] = audit.json()["items"]
    assert entry["actor_name"] == "alice@loom.test"
    assert entry["after"]["comment"] == "looks fine"


async def test_a_named_user_may_approve(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api)
    assert [a["request_id"] for a in await _awaiting(loom_api, "carol@loom.test")] == [request_id]
    response = await _decide(loom_api, "carol@loom.test", request_id, "approve")
    assert response.status_code == 200, response.text
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "completed"


async def test_only_eligible_approvers_decide(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api)
    # In the requester's team (so they see the request) but not an approver.
    onlooker = await _decide(loom_api, "dave@loom.test", request_id, "approve")
    assert onlooker.status_code == 403
    assert onlooker.json()["error"]["message"].startswith(
        "only team payments or carol@loom.test may decide"
    )
    # An organisation admin sees every request, but is no payments member.
    assert (await _decide(loom_api, "admin@loom.test", request_id, "approve")).status_code == 403
    # Below the minimum role in payments, and not in the requester's team: not found.
    below = await _decide(loom_api, "victor@loom.test", request_id, "approve")
    assert below.status_code == 404
    assert await _awaiting(loom_api, "victor@loom.test") == []
    assert await _awaiting(loom_api, "dave@loom.test") == []
    # Nothing was decided.
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"


async def test_the_requester_cannot_approve_their_own_request(loom_api: Api) -> None:
    """Rita is a payments operator too: eligible, but not for her own request."""
    request_id = await _waiting_for_approval(loom_api)
    response = await _decide(loom_api, "rita@loom.test", request_id, "approve")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "FORBIDDEN",
        "message": "you cannot approve or reject your own request",
        "details": [],
        "correlation_id": response.headers["x-correlation-id"],
    }
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"
    assert await _awaiting(loom_api, "rita@loom.test") == []
    # Someone else's request awaits her, though.
    daves = await loom_api.submit("gated", by="dave@loom.test")
    await drain(loom_api.runtime)
    assert [a["request_id"] for a in await _awaiting(loom_api, "rita@loom.test")] == [daves]


async def test_a_quorum_of_two_needs_two_people_once_each(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api, "gated-two")
    first = await _decide(loom_api, "alice@loom.test", request_id, "approve")
    assert first.status_code == 200
    assert first.json()["waiting_for"] == "waiting for approval by team payments (1 of 2)"
    assert first.json()["tasks"][0]["state"] == "waiting"
    again = await _decide(loom_api, "alice@loom.test", request_id, "approve")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "you already decided this approval (approved)"
    assert await _awaiting(loom_api, "alice@loom.test") == []
    [for_bob] = await _awaiting(loom_api, "bob@loom.test")
    assert for_bob["approvals"] == 1 and [d["email"] for d in for_bob["decisions"]] == [
        "alice@loom.test"
    ]

    second = await _decide(loom_api, "bob@loom.test", request_id, "approve")
    assert second.status_code == 200
    assert second.json()["tasks"][0]["state"] == "completed"
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    done = await loom_api.detail(request_id)
    assert done["state"] == "completed"
    assert done["tasks"][0]["external_refs"] == {"approved_by": "alice@loom.test, bob@loom.test"}


async def test_a_rejection_fails_the_request_and_a_retry_asks_again(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api, "gated-two")
    assert (await _decide(loom_api, "alice@loom.test", request_id, "approve")).status_code == 200
    rejected = await _decide(loom_api, "bob@loom.test", request_id, "reject", "not this quarter")
    assert rejected.status_code == 200
    failed = await loom_api.detail(request_id)
    assert failed["state"] == "failed"
    assert failed["error"] == "rejected by bob@loom.test: not this quarter"
    assert [t["state"] for t in failed["tasks"]] == ["failed", "pending"]
    assert await drain(loom_api.runtime) == []
    late = await _decide(loom_api, "alice@loom.test", request_id, "approve")
    assert late.status_code == 409

    retried = await (await loom_api.as_("rita@loom.test")).post(
        f"/api/v1/requests/{request_id}/retry"
    )
    assert retried.status_code == 200, retried.text
    assert await drain(loom_api.runtime) == [Outcome.WAITING]
    again = await loom_api.detail(request_id)
    assert again["waiting_for"] == "waiting for approval by team payments (0 of 2)"
    # Earlier decisions do not count: alice may decide again, and it takes two.
    assert (await _decide(loom_api, "alice@loom.test", request_id, "approve")).status_code == 200
    assert (await _decide(loom_api, "bob@loom.test", request_id, "approve")).status_code == 200
    assert await drain(loom_api.runtime) == [Outcome.COMPLETED]
    assert (await loom_api.detail(request_id))["state"] == "completed"


async def test_an_approval_expires_after_its_timeout(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api)
    assert await check_due(loom_api.runtime, utcnow() + timedelta(minutes=30)) == {}
    assert await check_due(loom_api.runtime, utcnow() + timedelta(hours=1, minutes=1)) == {
        "timed_out": 1
    }
    expired = await loom_api.detail(request_id)
    assert expired["state"] == "failed" and expired["error"] == "approval expired"
    late = await _decide(loom_api, "alice@loom.test", request_id, "approve")
    assert late.status_code == 409


async def test_auto_approve_completes_at_once_and_is_audited(loom_api: Api) -> None:
    request_id = await loom_api.submit("gated", size="small")
    assert await drain(loom_api.runtime) == [Outcome.WAITING, Outcome.COMPLETED]
    done = await loom_api.detail(request_id)
    assert done["state"] == "completed"
    assert done["tasks"][0]["external_refs"] == {"approval": "auto-approved"}
    assert "auto-approved: autoApproveIf is true" in await loom_api.logs(request_id)
    audit = await (await loom_api.as_("admin@loom.test")).get(
        "/api/v1/audit", params={"action": "request.auto_approve", "target_id": request_id}
    )
    [entry] = audit.json()["items"]
    assert entry["after"]["decision"] == "auto-approved"


async def test_deciding_on_a_request_that_waits_for_no_approval_is_a_conflict(
    loom_api: Api,
) -> None:
    request_id = await loom_api.submit("ticketed")
    await drain(loom_api.runtime)
    response = await _decide(loom_api, "rita@loom.test", request_id, "approve")
    assert response.status_code == 409
    assert "not waiting for an approval" in response.json()["error"]["message"]


async def test_a_comment_too_long_is_refused_naming_the_field(loom_api: Api) -> None:
    request_id = await _waiting_for_approval(loom_api)
    response = await _decide(loom_api, "alice@loom.test", request_id, "reject", "x" * 2001)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "comment"
    assert (await loom_api.detail(request_id))["tasks"][0]["state"] == "waiting"
