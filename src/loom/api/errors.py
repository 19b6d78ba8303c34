"""The one error envelope, and the handlers that turn every failure into it.

{"error": {"code": "...", "message": "...", "details": [{"field": ..., "issue": ...}],
           "correlation_id": "..."}}
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from loom import errors
from loom.api.correlation import HEADER, correlation_id

STATUS_OF: dict[type[errors.LoomError], int] = {
    errors.InvalidInput: 422,
    errors.NotAuthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.IllegalTransition: 409,
    errors.Gone: 410,
    errors.RateLimited: 429,
    errors.RejectedInput: 400,
    errors.UpstreamFailed: 502,
    errors.UpstreamUnavailable: 503,
}

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    410: "GONE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


def envelope(
    status: int,
    code: str,
    message: str,
    details: Sequence[errors.FieldIssue] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    cid = correlation_id()
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": message,
            "details": [{"field": d.field, "issue": d.issue} for d in details],
            "correlation_id": cid,
        }
    }
    all_headers = dict(headers or {})
    if cid:
        all_headers[HEADER] = cid
    return JSONResponse(body, status_code=status, headers=all_headers)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return envelope(400, "INVALID_JSON", "request body is not valid JSON")
    details = [errors.FieldIssue(errors.field_path(p["loc"]), p["msg"]) for p in problems]
    summary = "; ".join(f"{d.field}: {d.issue}" for d in details[:3])
    return envelope(422, "VALIDATION_ERROR", f"invalid request: {summary}", details)


def status_of(exc: errors.LoomError) -> int:
    """The HTTP status of a domain error: its own class's, else its nearest ancestor's."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


def loom_error_response(exc: errors.LoomError) -> JSONResponse:
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return envelope(status, exc.code, exc.message, exc.details, headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_loom_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.LoomError)
        return loom_error_response(exc)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource"
        return envelope(exc.status_code, code, message, headers=dict(exc.headers or {}))

    app.add_exception_handler(errors.LoomError, on_loom_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
