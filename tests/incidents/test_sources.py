"""Alert sources authenticate senders: by token or HMAC, of the right kind, enabled."""

from __future__ import annotations

import json

import httpx

from tests.incidents.alert_support import (
    ALERTS,
    SOURCES,
    am_alert,
    am_payload,
    as_source,
    make_source,
    post_am,
    signed,
)


async def test_token_authenticates_the_source(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    source = await make_source(client, admin_headers)
    response = await post_am(client, source, am_alert("HighLatency"))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    listed = (await client.get(SOURCES, headers=admin_headers)).json()["items"]
    assert listed[0]["last_used_at"] is not None


async def test_hmac_signature_authenticates_and_a_bad_one_is_401(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    source = await make_source(client, admin_headers)
    body = json.dumps(am_payload(am_alert("HighLatency"))).encode()
    ok = await client.post(f"{ALERTS}/alertmanager", content=body, headers=signed(source, body))
    assert ok.status_code == 200, ok.text
    tampered = body.replace(b"HighLatency", b"LowLatency")
    bad = await client.post(
        f"{ALERTS}/alertmanager", content=tampered, headers=signed(source, body)
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_no_token_is_401_and_a_user_token_is_not_a_source(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = am_payload(am_alert("X"))
    assert (await client.post(f"{ALERTS}/alertmanager", json=body)).status_code == 401
    as_user = await client.post(f"{ALERTS}/alertmanager", json=body, headers=admin_headers)
    assert as_user.status_code == 401


async def test_a_source_of_another_kind_is_403(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    generic = await make_source(client, admin_headers, "generic")
    response = await post_am(client, generic, am_alert("X"))
    assert response.status_code == 403
    assert "generic source" in response.json()["error"]["message"]
    health = await client.post(
        f"{ALERTS}/health-check", headers=as_source(generic),
        json={"service": "api", "check": "http", "status": "failing"},
    )  # fmt: skip
    assert health.status_code == 403


async def test_a_disabled_source_is_403(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    source = await make_source(client, admin_headers)
    patched = await client.patch(
        f"{SOURCES}/{source['id']}", json={"enabled": False}, headers=admin_headers
    )
    assert patched.status_code == 200
    assert (await post_am(client, source, am_alert("X"))).status_code == 403


async def test_a_rotated_token_is_refused_and_the_new_one_works(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    source = await make_source(client, admin_headers)
    rotated = await client.post(f"{SOURCES}/{source['id']}/rotate", headers=admin_headers)
    assert rotated.status_code == 200
    assert (await post_am(client, source, am_alert("X"))).status_code == 401
    assert (await post_am(client, rotated.json(), am_alert("X"))).status_code == 200


async def test_only_admins_make_sources(client: httpx.AsyncClient, tenant: object) -> None:
    headers = tenant.headers  # type: ignore[attr-defined]
    for who in ("viewer-a", "operator-a"):
        response = await client.post(
            SOURCES, json={"name": "am", "kind": "alertmanager"}, headers=headers[who]
        )
        assert response.status_code == 403, who


async def test_github_style_signature_names_the_source_in_the_query(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    source = await make_source(client, admin_headers, "generic")
    body = json.dumps({"title": "Build broke"}).encode()
    headers = {"X-Hub-Signature-256": signed(source, body)["X-Loom-Signature-256"]}
    ok = await client.post(ALERTS, params={"source": source["id"]}, content=body, headers=headers)
    assert ok.status_code == 200, ok.text
    unnamed = await client.post(ALERTS, content=body, headers=headers)
    assert unnamed.status_code == 401
