"""Signing in and out of the portal (password login; the session cookie is the one the
API's /auth/login sets too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from starlette.responses import RedirectResponse, Response

from loom.api.deps import SESSION_USER_KEY, SessionDep
from loom.auth import service
from loom.errors import NotAuthenticated
from loom.web.csrf import new_csrf_token
from loom.web.deps import CsrfChecked, MaybePrincipal
from loom.web.redirects import LOGIN, login_url, safe_next
from loom.web.routing import page_router
from loom.web.templating import render

router = page_router()

Email = Annotated[str, Form(max_length=320)]
Password = Annotated[str, Form(max_length=200)]
NextField = Annotated[str, Form(alias="next", max_length=2000)]
NextQuery = Annotated[str, Query(alias="next", max_length=2000)]


def _login_form(
    request: Request, *, email: str = "", next_path: str = "", error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "login.html",
        {"email": email, "next": safe_next(next_path, default=""), "error": error},
        status_code=status,
    )


@router.get(LOGIN)
async def login_page(
    request: Request,
    principal: MaybePrincipal,
    next_path: NextQuery = "",
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_form(request, next_path=next_path)


@router.post(LOGIN, dependencies=[CsrfChecked])
async def login(
    request: Request,
    session: SessionDep,
    email: Email = "",
    password: Password = "",
    next_path: NextField = "",
) -> Response:
    if not email.strip() or not password:
        return _login_form(
            request,
            email=email,
            next_path=next_path,
            error="Enter your email and your password.",
            status=400,
        )
    try:
        async with session.begin():
            user = await service.login(session, email, password)
    except NotAuthenticated:
        return _login_form(
            request, email=email, next_path=next_path, error="Wrong email or password.", status=401
        )
    request.session.clear()
    request.session[SESSION_USER_KEY] = str(user.id)
    new_csrf_token(request)
    return RedirectResponse(safe_next(next_path), status_code=303)


@router.post("/ui/logout", dependencies=[CsrfChecked])
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse(login_url(), status_code=303)
