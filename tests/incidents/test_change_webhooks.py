"""Change webhooks: GitHub (signature valid, invalid, missing; deployment,
deployment_status and workflow_run payloads; which service), Jenkins and ArgoCD."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from loom.incidents import change_webhooks
from loom.incidents.sources import sign
from tests.conftest import Tenant
from tests.incidents.change_support import CHANGES, fields_of, make_source
from tests.services.support import register

HOOKS = "/api/v1/changes/webhooks"
NOW = datetime.now(UTC).replace(microsecond=0)
SHA = "0123456789abcdef0123456789abcdef01234567"


def deployment_event(deployment_id: int = 7, **changes: Any) -> dict[str, Any]:
    deployment = {
        "id": deployment_id, "sha": SHA, "ref": "main", "task": "deploy",
        "environment": "production", "description": "release", "payload": {},
        "creator": {"login": "octocat"}, "url": "https://api.github.com/repos/acme/api/deployments/7",
        "created_at": (NOW - timedelta(minutes=3)).isoformat(),
    }  # fmt: skip
    deployment.update(changes)
    return {
        "action": "created", "deployment": deployment,
        "repository": {"name": "api", "full_name": "acme/api", "html_url": "https://github.com/acme/api"},
    }  # fmt: skip


def workflow_run_event(
    action: str = "completed", conclusion: str | None = "success"
) -> dict[str, Any]:
    return {
        "action": action,
        "workflow_run": {
            "id": 991, "name": "Deploy", "head_sha": SHA, "head_branch": "main",
            "html_url": "https://github.com/acme/shop-backend/actions/runs/991",
            "conclusion": conclusion, "status": "completed",
            "updated_at": (NOW - timedelta(minutes=1)).isoformat(), "actor": {"login": "hubot"},
        },
        "repository": {"name": "shop-backend", "full_name": "acme/shop-backend"},
    }  # fmt: skip


async def github(
    client: httpx.AsyncClient, source: dict[str, Any], event: str, payload: dict[str, Any],
    *, secret: str | None = None, signature: str | None = None, **params: str,
) -> httpx.Response:  # fmt: skip
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if signature is None:
        signature = sign(secret or source["hmac_secret"], body)
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return await client.post(
        f"{HOOKS}/github", content=body, headers=headers, params={"source": source["id"], **params}
    )


@pytest.fixture
async def registry(client: httpx.AsyncClient, tenant: Tenant) -> None:
    operator = tenant.headers["operator-a"]
    await register(client, operator, "api")
    await register(client, operator, "shop", repository_url="https://github.com/acme/shop-backend")


async def test_github_signature_is_required_and_checked(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "github")
    for kwargs in ({"signature": ""}, {"secret": "wrong"}, {"signature": "sha1=abc"}):
        response = await github(client, source, "deployment", deployment_event(), **kwargs)
        assert response.status_code == 401, kwargs
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    listed = await client.get(CHANGES, headers=admin_headers)
    assert listed.json()["items"] == []
    ping = await github(client, source, "ping", {"zen": "Keep it logically awesome."})
    assert ping.status_code == 200 and ping.json() == {"status": "pong"}
    other = await github(client, source, "push", {"ref": "refs/heads/main"})
    assert other.status_code == 202 and other.json()["status"] == "ignored"


async def test_a_github_source_of_another_kind_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    jenkins = await make_source(client, admin_headers, "jenkins")
    response = await github(client, jenkins, "deployment", deployment_event())
    assert response.status_code == 403


async def test_github_deployment_records_a_deployment_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "github")
    first = await github(client, source, "deployment", deployment_event())
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "recorded"
    change = (
        await client.get(f"{CHANGES}/{first.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (change["type"], change["source"], change["service"]) == ("deployment", "github", "api")
    assert (change["environment"], change["version"]) == ("production", SHA[:12])
    assert (change["author"], change["external_id"]) == ("octocat", "deployment:7")
    assert change["deployment_id"] is not None
    # The success status of the same deployment, and a redelivery, record nothing new.
    status_event = {
        **deployment_event(),
        "deployment_status": {"state": "success", "environment": "production",
                              "target_url": "https://ci.test/7", "created_at": NOW.isoformat(),
                              "creator": {"login": "octocat"}},
    }  # fmt: skip
    again = await github(client, source, "deployment_status", status_event)
    redelivered = await github(client, source, "deployment", deployment_event())
    assert again.json()["change_id"] == redelivered.json()["change_id"] == change["id"]
    failed = {
        **status_event,
        "deployment_status": {**status_event["deployment_status"], "state": "failure"},
    }
    ignored = await github(client, source, "deployment_status", failed)
    assert ignored.status_code == 202 and "failure" in ignored.json()["reason"]
    history = await client.get("/api/v1/services/api/deployments", headers=admin_headers)
    [dep] = history.json()["items"]
    assert (dep["version"], dep["commit_sha"], dep["source"]) == (SHA[:12], SHA, "webhook")
    # A deployment whose payload names the version uses it.
    versioned = deployment_event(8, payload={"version": "2.0.0"})
    made = await github(client, source, "deployment", versioned)
    got = await client.get(f"{CHANGES}/{made.json()['change_id']}", headers=admin_headers)
    assert (got.json()["version"], got.json()["previous_version"]) == ("2.0.0", SHA[:12])


async def test_github_workflow_run_finds_the_service_by_repository_url_or_query(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "github")
    made = await github(client, source, "workflow_run", workflow_run_event(), environment="staging")
    assert made.status_code == 200, made.text
    change = (
        await client.get(f"{CHANGES}/{made.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (change["service"], change["environment"], change["type"]) == (
        "shop",
        "staging",
        "deployment",
    )
    assert (change["author"], change["url"]) == (
        "hubot",
        "https://github.com/acme/shop-backend/actions/runs/991",
    )
    assert change["deployment_id"] is not None
    for action, conclusion in (("in_progress", None), ("completed", "failure")):
        response = await github(
            client, source, "workflow_run", workflow_run_event(action, conclusion)
        )
        assert response.status_code == 202
    payload = workflow_run_event()
    payload["workflow_run"]["id"] = 992
    explicit = await github(client, source, "workflow_run", payload, service="api", type="config")
    got = (
        await client.get(f"{CHANGES}/{explicit.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (got["service"], got["type"], got["environment"]) == ("api", "config", None)
    payload["workflow_run"]["id"] = 993
    unknown = await github(client, source, "workflow_run", payload, service="nope")
    assert unknown.status_code == 400 and fields_of(unknown) == ["service"]


async def test_github_malformed_payloads_are_400s_naming_the_field(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "github")
    broken = deployment_event()
    del broken["deployment"]["sha"]
    response = await github(client, source, "deployment", broken)
    assert response.status_code == 400
    assert fields_of(response) == ["deployment.sha"]
    no_repo = deployment_event()
    del no_repo["repository"]
    assert fields_of(await github(client, source, "deployment", no_repo)) == ["repository"]
    unknown = await github(client, source, "deployment", deployment_event(9), service="nope")
    assert unknown.status_code == 400 and fields_of(unknown) == ["service"]


def jenkins_build(**changes: Any) -> dict[str, Any]:
    build = {
        "service": "api", "environment": "staging", "version": "3.1.0", "job": "api-deploy",
        "build_number": 57, "build_url": "https://jenkins.test/job/api-deploy/57/",
        "user": "alice", "result": "SUCCESS",
        "timestamp": int((NOW - timedelta(minutes=2)).timestamp() * 1000),
    }  # fmt: skip
    build.update(changes)
    return build


async def test_jenkins_records_successful_builds(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "jenkins")
    auth = {"Authorization": f"Bearer {source['token']}"}
    made = await client.post(f"{HOOKS}/jenkins", json=jenkins_build(), headers=auth)
    assert made.status_code == 200, made.text
    change = (
        await client.get(f"{CHANGES}/{made.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (change["source"], change["service"], change["version"]) == ("jenkins", "api", "3.1.0")
    assert (change["author"], change["external_id"]) == ("alice", "api-deploy#57")
    assert datetime.fromisoformat(change["happened_at"]) == NOW - timedelta(minutes=2)
    again = await client.post(f"{HOOKS}/jenkins", json=jenkins_build(), headers=auth)
    assert again.json()["change_id"] == change["id"]
    failed = await client.post(
        f"{HOOKS}/jenkins", json=jenkins_build(result="FAILURE", build_number=58), headers=auth
    )
    assert failed.status_code == 202
    missing = jenkins_build()
    del missing["version"]
    bad = await client.post(f"{HOOKS}/jenkins", json=missing, headers=auth)
    assert bad.status_code == 400 and fields_of(bad) == ["version"]
    signed_body = json.dumps(jenkins_build(build_number=59)).encode()
    signed = await client.post(
        f"{HOOKS}/jenkins", content=signed_body,
        headers={"X-Loom-Signature-256": sign(source["hmac_secret"], signed_body),
                 "X-Loom-Source": source["id"], "Content-Type": "application/json"},
    )  # fmt: skip
    assert signed.status_code == 200, signed.text
    unauthenticated = await client.post(f"{HOOKS}/jenkins", json=jenkins_build())
    assert unauthenticated.status_code == 401


def argocd_sync(**changes: Any) -> dict[str, Any]:
    body = {
        "app": "shop-prod", "revision": SHA, "environment": "production", "status": "Succeeded",
        "finished_at": NOW.isoformat(), "author": "", "labels": {"loom.dev/service": "shop"},
        "url": "https://argocd.test/applications/shop-prod",
    }  # fmt: skip
    body.update(changes)
    return body


async def test_argocd_records_succeeded_syncs(
    client: httpx.AsyncClient, admin_headers: dict[str, str], registry: None
) -> None:
    source = await make_source(client, admin_headers, "argocd")
    auth = {"Authorization": f"Bearer {source['token']}"}
    made = await client.post(f"{HOOKS}/argocd", json=argocd_sync(), headers=auth)
    assert made.status_code == 200, made.text
    change = (
        await client.get(f"{CHANGES}/{made.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (change["source"], change["service"], change["version"]) == ("argocd", "shop", SHA[:12])
    assert (change["author"], change["environment"]) == ("argocd", "production")
    versions = await client.get("/api/v1/services/versions", headers=admin_headers)
    [row] = [r for r in versions.json()["items"] if r["service"] == "shop"]
    assert row["versions"]["production"]["version"] == SHA[:12]
    running = await client.post(f"{HOOKS}/argocd", json=argocd_sync(status="Running"), headers=auth)
    assert running.status_code == 202
    by_name = await client.post(
        f"{HOOKS}/argocd", json=argocd_sync(app="api", labels={}, revision="v5"), headers=auth
    )
    got = (
        await client.get(f"{CHANGES}/{by_name.json()['change_id']}", headers=admin_headers)
    ).json()
    assert (got["service"], got["version"]) == ("api", "v5")
    bad = await client.post(
        f"{HOOKS}/argocd", json=argocd_sync(finished_at="yesterday"), headers=auth
    )
    assert bad.status_code == 400 and fields_of(bad) == ["finished_at"]


def test_parsers_are_pure_and_say_why_they_ignore() -> None:
    with pytest.raises(change_webhooks.Ignored, match="FAILURE"):
        change_webhooks.parse_jenkins(jenkins_build(result="FAILURE"))
    data = change_webhooks.parse_jenkins(jenkins_build(timestamp="2026-01-02T03:04:05Z"))
    assert data.happened_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data, repo = change_webhooks.parse_github("deployment", deployment_event())
    assert repo == "acme/api" and data.commit_sha == SHA
