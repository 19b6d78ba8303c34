"""The portal shell: sign in and out, the home page with health, the domain placeholders,
error pages, CSRF, open redirects, /docs offline and the static files."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import User
from loom.auth.passwords import hash_password
from loom.web.navigation import NAV, NavItem, nav_item
from loom.web.placeholders import COMING_SOON
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.web.conftest import csrf_of, sign_in

_URL = re.compile(r"https?://", re.IGNORECASE)


async def test_root_redirects_to_the_portal(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.is_redirect
    assert response.headers["location"] == "/ui"


async def test_anonymous_home_redirects_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"


async def test_anonymous_page_redirects_to_login_remembering_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/ui/services", params={"team": "a"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fservices%3Fteam%3Da"
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    assert 'name="next" value="/ui/services?team=a"' in page.text


async def test_anonymous_unknown_page_redirects_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/no/such/page")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=")


async def test_login_page_is_a_form_with_a_csrf_token(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/ui/login">' in page.text
    assert 'name="email"' in page.text and 'name="password"' in page.text
    assert len(csrf_of(page)) >= 32
    assert 'action="/ui/logout"' not in page.text  # nobody to sign out yet


async def test_login_sets_the_session_and_home_shows_user_and_health(
    client: httpx.AsyncClient,
) -> None:
    response = await sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"
    assert "loom_session" in response.cookies

    home = await client.get("/ui")
    assert home.status_code == 200
    assert ADMIN_EMAIL in home.text
    assert 'data-check="database" data-ok="true"' in home.text
    assert 'data-check="migrations" data-ok="true"' in home.text
    assert "all checks pass" in home.text
    assert "Platform" in home.text  # the bootstrap team
    assert 'hx-get="/ui/fragments/health"' in home.text
    assert 'hx-trigger="every 10s"' in home.text
    for item in NAV:
        assert f'href="{item.href}"' in home.text


async def test_api_login_cookie_also_opens_the_portal(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    assert (await client.get("/ui")).status_code == 200


async def test_login_goes_to_the_local_next_page(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, next_path="/ui/incidents?open=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/incidents?open=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/ui",
        "//evil.example/ui",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
    ],
)
async def test_login_ignores_an_external_next(client: httpx.AsyncClient, target: str) -> None:
    response = await sign_in(client, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui"


async def test_login_page_drops_an_external_next(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/login", params={"next": "https://evil.example/"})
    assert "evil.example" not in page.text


async def test_wrong_password_shows_the_error_and_keeps_the_email(
    client: httpx.AsyncClient,
) -> None:
    response = await sign_in(client, password="not-the-password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert f'value="{ADMIN_EMAIL}"' in response.text
    assert 'value="not-the-password"' not in response.text
    assert (await client.get("/ui")).status_code == 303


async def test_unknown_email_gets_the_same_error(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, email="nobody@loom.test")
    assert response.status_code == 401
    assert "Wrong email or password." in response.text


async def test_empty_form_asks_for_both_fields(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, email=" ", password="")
    assert response.status_code == 400
    assert "Enter your email and your password." in response.text


async def test_signed_in_visitor_skips_the_login_page(signed_in: httpx.AsyncClient) -> None:
    response = await signed_in.get("/ui/login", params={"next": "/ui/audit"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/audit"


async def test_login_without_csrf_token_is_403(client: httpx.AsyncClient) -> None:
    await client.get("/ui/login")
    response = await client.post(
        "/ui/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert (await client.get("/ui")).status_code == 303


async def test_csrf_token_mismatch_is_403(client: httpx.AsyncClient) -> None:
    token = csrf_of(await client.get("/ui/login"))
    response = await client.post(
        "/ui/login",
        data={"csrf_token": token[::-1], "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
    )
    assert response.status_code == 403
    assert "form has expired" in response.text


async def test_token_from_another_session_is_refused(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://loom.test") as attacker,
        httpx.AsyncClient(transport=transport, base_url="http://loom.test") as victim,
    ):
        token = csrf_of(await attacker.get("/ui/login"))
        await victim.get("/ui/login")
        response = await victim.post(
            "/ui/login",
            data={"csrf_token": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
    assert response.status_code == 403


async def test_login_renews_the_csrf_token(client: httpx.AsyncClient) -> None:
    before = csrf_of(await client.get("/ui/login"))
    await sign_in(client)
    after = csrf_of(await client.get("/ui"))
    assert after != before


async def test_logout_ends_the_session(signed_in: httpx.AsyncClient) -> None:
    token = csrf_of(await signed_in.get("/ui"))
    response = await signed_in.post("/ui/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login"
    assert (await signed_in.get("/ui")).status_code == 303
    assert (await signed_in.get("/api/v1/me")).status_code == 401


async def test_logout_accepts_the_htmx_csrf_header(signed_in: httpx.AsyncClient) -> None:
    token = csrf_of(await signed_in.get("/ui"))
    response = await signed_in.post("/ui/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303
    assert (await signed_in.get("/ui")).status_code == 303


async def test_logout_without_csrf_token_is_refused(signed_in: httpx.AsyncClient) -> None:
    response = await signed_in.post("/ui/logout")
    assert response.status_code == 403
    assert (await signed_in.get("/ui")).status_code == 200


async def test_health_fragment_is_the_panel_alone(signed_in: httpx.AsyncClient) -> None:
    response = await signed_in.get("/ui/fragments/health", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<article id="health"')
    assert 'data-check="database" data-ok="true"' in response.text
    assert "<html" not in response.text


async def test_health_panel_shows_a_failing_check(
    app: FastAPI, signed_in: httpx.AsyncClient
) -> None:
    app.state.runtime.heartbeats["workers"] = time.monotonic() - 3600  # long silent
    response = await signed_in.get("/ui/fragments/health")
    assert 'data-check="workers" data-ok="false"' in response.text
    assert 'data-check="database" data-ok="true"' in response.text
    assert "degraded" in response.text


async def test_text_from_the_database_is_escaped(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        assert org_id is not None
        s.add(
            User(
                org_id=org_id,
                email="mallory@loom.test",
                name="<script>alert(1)</script>",
                password_hash=hash_password("mallory-password"),
            )
        )
    await sign_in(client, email="mallory@loom.test", password="mallory-password")
    home = await client.get("/ui")
    assert "<script>alert(1)</script>" not in home.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text
    assert "not in any team yet" in home.text


async def test_health_fragment_sends_htmx_to_login_when_signed_out(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/ui/fragments/health",
        headers={"HX-Request": "true", "HX-Current-URL": "http://loom.test/ui"},
    )
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/ui/login"


@pytest.mark.parametrize("item", [nav_item(s) for s in COMING_SOON], ids=lambda i: i.slug)
async def test_domains_not_built_yet_say_coming_soon(
    signed_in: httpx.AsyncClient, item: NavItem
) -> None:
    href = item.href
    response = await signed_in.get(href)
    assert response.status_code == 200
    assert "coming soon" in response.text
    assert f'<a href="{href}" aria-current="page">' in response.text


async def test_unknown_portal_page_is_an_html_404(signed_in: httpx.AsyncClient) -> None:
    response = await signed_in.get("/ui/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "404 · Not Found" in response.text
    assert ADMIN_EMAIL in response.text  # still inside the portal's frame


async def test_portal_pages_carry_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp


async def test_the_api_keeps_its_own_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health")
    assert "content-security-policy" not in response.headers


async def test_pages_load_nothing_from_other_hosts(signed_in: httpx.AsyncClient) -> None:
    for path in ("/ui", "/ui/catalog", "/ui/nope"):
        page = await signed_in.get(path)
        assert not _URL.search(page.text), path


async def test_docs_work_offline_from_static_files(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert not _URL.search(page.text), "the docs page must not name any other host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert set(assets) == {
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/favicon-32x32.png",
    }
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset
    assert "url: '/api/v1/openapi.json'" in page.text
    assert (await client.get("/api/v1/openapi.json")).status_code == 200


async def test_docs_allow_only_their_own_inline_script(client: httpx.AsyncClient) -> None:
    csp = (await client.get("/docs")).headers["content-security-policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/]+=*';", csp)
    assert "frame-ancestors 'none'" in csp


async def test_portal_routes_stay_out_of_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/ui", "/docs"))]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/vendor/htmx/htmx.min.js", "javascript"),
        ("/static/vendor/pico/pico.min.css", "text/css"),
        ("/static/portal.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_are_served(client: httpx.AsyncClient, path: str, kind: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert kind in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"
