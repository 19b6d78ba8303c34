"""The README's demo, end to end, in the app `make serve` runs: the admin asks for the
sample `new-web-service` bundle; it waits for the platform team's approval; the demo
approver approves; the namespace's manifests are committed (a pull request in the demo
GitHub, merged by the sync workflow, whose artifact names the ingress); Terraform
applies the database; the DBAs' ticket and the network team's DNS ticket open in the
demo JIRA, the first blocking the second, and the request completes once the DNS
ticket is done. The portal labels the demo's links and says the integrations are fakes.

The real workers' code runs the tasks (`drain`) and the periodic check ends the waits
(`check_due`, a few minutes ahead); the demo's ticker moves on its test clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from loom.db.types import utcnow
from loom.demo import ticker
from loom.workers.runner import Outcome
from loom.workers.wait_checks import check_due
from tests.conftest import ADMIN_PASSWORD
from tests.demo.conftest import Demo
from tests.provisioning.waits_support import drain
from tests.web.conftest import sign_in
from tests.web.test_catalog_pages import parse

INPUTS = {
    "service_name": "shop-api",
    "team": "checkout",
    "environment": "staging",
    "database": {"name": "shop"},
    "zone": "internal.example",
}
LATER = timedelta(minutes=5)


async def _detail(demo: Demo, request_id: str) -> dict[str, Any]:
    response = await demo.admin.get(f"/api/v1/requests/{request_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _checks(demo: Demo, times: int = 1) -> None:
    """The periodic check, `times` rounds, each one further in the future."""
    for round_ in range(1, times + 1):
        await check_due(demo.runtime, utcnow() + LATER * round_)


async def test_the_bundle_waits_for_approval_then_opens_linked_tickets_and_commits(
    demo: Demo,
) -> None:
    jira, github = demo.integrations.jira, demo.integrations.github
    assert jira is not None and github is not None and demo.integrations.terraform is not None
    body = {"item": "new-web-service", "team": "platform", "inputs": INPUTS}
    created = await demo.admin.post("/api/v1/requests", json=body)
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]

    assert await drain(demo.runtime) == [Outcome.WAITING]
    waiting = await _detail(demo, request_id)
    assert waiting["tasks"][0]["action_type"] == "approval"
    assert "waiting for approval by team platform" in waiting["waiting_for"]
    assert jira.issues == {} and not github.repo("acme/k8s-gitops").pulls

    own = await demo.admin.post(f"/api/v1/requests/{request_id}/approve", json={})
    assert own.status_code in (403, 409), own.text  # nobody approves their own request
    approved = await demo.approver.post(
        f"/api/v1/requests/{request_id}/approve", json={"comment": "go"}
    )
    assert approved.status_code == 200, approved.text

    # The namespace: its pull request, then the sync workflow's run.
    assert await drain(demo.runtime) == [Outcome.COMPLETED, Outcome.WAITING]
    gitops = github.repo("acme/k8s-gitops")
    [pull] = gitops.pulls.values()
    assert pull.head == "loom/ns-eu-west-1-shared-shop-api" and pull.state == "open"
    head = gitops.commits[gitops.branches[pull.head]]
    assert "clusters/eu-west-1-shared/namespaces/shop-api/namespace.yaml" in head.tree
    assert "Loom-Task:" in head.message
    demo.tick(0)
    demo.tick(ticker.RUN_DONE_AFTER)
    assert pull.merged
    await _checks(demo)

    # The database: its approval (auto-approved: not production, so it ends as it starts
    # waiting), then Terraform, then the DBAs' ticket.
    assert await drain(demo.runtime) == [Outcome.WAITING, Outcome.WAITING]
    tasks = (await _detail(demo, request_id))["tasks"]
    assert [t["state"] for t in tasks if t["component_id"] == "database"] == [
        "completed",
        "waiting",
        "pending",
    ]
    for _ in range(6):
        demo.tick(ticker.TERRAFORM_STEP)
    assert [run.status for run in demo.integrations.terraform.runs.values()] == ["applied"]
    await _checks(demo)
    # The DBAs' ticket (created: done), then the DNS ticket, done by hand and waited for.
    assert await drain(demo.runtime) == [Outcome.COMPLETED, Outcome.WAITING]

    assert sorted(jira.issues) == ["DBA-1", "OPS-1"]
    dba, ops = "DBA-1", "OPS-1"
    assert jira.blockers_of(ops) == [dba]  # the database's ticket blocks the DNS ticket
    dns = jira.issues[ops]
    assert dns.summary == (
        "DNS: CNAME shop-api.internal.example → shop-api.eu-west-1-shared.apps.acme.example"
    )
    assert dns.components == ["Network"]
    assert jira.issues[dba].summary == "Onboard staging database shop"
    assert "staging-shop.cluster-demo" in str(jira.issues[dba].description)

    mid = await _detail(demo, request_id)
    assert mid["state"] == "processing" and "OPS-1" in mid["waiting_for"]
    await _checks(demo)
    assert (await _detail(demo, request_id))["state"] == "processing"  # still open
    demo.tick(0)
    demo.tick(ticker.TICKET_DONE_AFTER)
    assert jira.statuses() == {"DBA-1": "Done", "OPS-1": "Done"}
    await _checks(demo, times=2)

    done = await _detail(demo, request_id)
    assert done["state"] == "completed", done
    assert done["outputs"]["ingress_hostname"] == "shop-api.eu-west-1-shared.apps.acme.example"
    assert done["outputs"]["ticketKey"] == "OPS-1"


async def test_the_portal_labels_demo_links_and_says_the_integrations_are_fakes(
    demo: Demo,
) -> None:
    jira = demo.integrations.jira
    assert jira is not None
    body = {"item": "dns-record", "team": "platform",
            "inputs": {"zone": "internal.example", "name": "wiki", "value": "wiki.example.org"}}  # fmt: skip
    request_id = (await demo.admin.post("/api/v1/requests", json=body)).json()["id"]
    assert await drain(demo.runtime) == [Outcome.WAITING]
    [key] = jira.issues

    transport = httpx.ASGITransport(app=demo.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://loom.test") as portal:
        assert (await sign_in(portal, password=ADMIN_PASSWORD)).status_code == 303
        page = await portal.get(f"/ui/requests/{request_id}")
    assert page.status_code == 200
    html = parse(page.text)
    [banner] = html.find_all(data_testid="demo-banner")
    assert "JIRA, GitHub, Terraform" in banner.text and "not real systems" in banner.text
    refs = [dd for dl in html.find_all("dl", **{"class": "task-values task-refs"})
            for dd in dl.find_all("dd")]  # fmt: skip
    [ticket_ref] = [dd for dd in refs if dd.find_all("a")]  # the ticket's URL
    [link] = ticket_ref.find_all("a")
    [badge] = ticket_ref.find_all("span")
    assert badge.text == "demo integration" and "demo" in (badge.get("class") or "")
    url = link.get("href") or ""

    # The link opens the demo JIRA's page for the ticket.
    async with httpx.AsyncClient() as browser:
        ticket = await browser.get(url)
    assert ticket.status_code == 200
    assert ticket.headers["content-type"].startswith("text/html")
    assert "Demo integration" in ticket.text and key in ticket.text
    assert "wiki.internal.example" in ticket.text  # the ticket describes the request
