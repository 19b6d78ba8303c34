"""The portal's route class: every failure inside a page becomes an HTML answer (a trip
to the login page, or an error page in the portal's frame), never the API's JSON
envelope. Routers of pages are made with `page_router()`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from loom import errors
from loom.api.errors import status_of
from loom.web.csrf import CsrfFailed
from loom.web.redirects import HOME, login_url
from loom.web.templating import render


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is signed in."""


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def to_login(request: Request) -> Response:
    """Send an anonymous visitor to the login page, remembering the page they wanted.
    htmx requests get a header that makes the browser itself go there (instead of
    swapping a login form into a fragment)."""
    if is_htmx(request):
        # A fragment or a post: come back to the page the browser is showing.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        wanted = current.path + (f"?{current.query}" if current.query else "")
        return Response(status_code=401, headers={"HX-Redirect": login_url(wanted)})
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(login_url(wanted if request.method == "GET" else HOME), 303)


def error_page(request: Request, status: int, message: str) -> Response:
    title = HTTPStatus(status).phrase
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


def _answer(request: Request, exc: Exception) -> Response | None:
    """The HTML answer to an exception raised by a page, or None to let it propagate."""
    if isinstance(exc, LoginRequired | errors.NotAuthenticated):
        return to_login(request)
    if isinstance(exc, CsrfFailed):
        return error_page(
            request, 403, "This form has expired or did not come from Loom. Reload and try again."
        )
    if isinstance(exc, errors.LoomError):
        return error_page(request, status_of(exc), exc.message)
    if isinstance(exc, RequestValidationError):
        return error_page(request, 400, "The request was not understood: check the form.")
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_page(request, exc.status_code, detail)
    return None


class PortalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                answer = _answer(request, exc)
                if answer is None:
                    raise
                return answer

        return portal_handler


def page_router(**kwargs: Any) -> APIRouter:
    """A router of portal pages: HTML answers, kept out of the OpenAPI document."""
    return APIRouter(route_class=PortalRoute, include_in_schema=False, **kwargs)
