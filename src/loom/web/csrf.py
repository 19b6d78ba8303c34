"""CSRF protection for the portal's form posts: a random token kept in the signed session
cookie, echoed by every form (hidden input) and htmx request (header); a post whose token
does not match is refused."""

from __future__ import annotations

import secrets

from starlette.requests import Request

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


class CsrfFailed(Exception):
    """The post carried no token, or not the one in this session."""


def csrf_token(request: Request) -> str:
    """This session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_csrf_token(request)
    return token


def new_csrf_token(request: Request) -> str:
    """Replace the token (after login: a token seen before signing in is not reused)."""
    token = secrets.token_urlsafe(32)
    request.session[SESSION_KEY] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Dependency for every unsafe portal route: the header or the form field must carry
    the session's token."""
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get(HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not expected or not sent:
        raise CsrfFailed("missing CSRF token")
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed("CSRF token mismatch")
