"""Helpers for portal tests: read the CSRF token from a page, sign in through the form."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on {page.request.url}"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient,
    email: str = ADMIN_EMAIL,
    password: str = ADMIN_PASSWORD,
    next_path: str | None = None,
) -> httpx.Response:
    """Post the login form as a browser would (token from the login page)."""
    token = csrf_of(await client.get("/ui/login"))
    form = {"csrf_token": token, "email": email, "password": password}
    if next_path is not None:
        form["next"] = next_path
    return await client.post("/ui/login", data=form)


@pytest.fixture
async def signed_in(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await sign_in(client)
    assert response.status_code == 303, response.text
    return client
