"""The HTTP core every area of the client shares: one `httpx.Client`, authentication,
a correlation id on every request, and error envelopes turned into `ApiError`."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from loom.client.errors import ApiError, ConnectionFailed, FieldIssue, UnexpectedResponse
from loom.client.pagination import Page

API_PREFIX = "/api/v1"
CORRELATION_HEADER = "X-Correlation-ID"
DEFAULT_TIMEOUT = 10.0

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


class HttpCore:
    """Sends requests to `<base_url>/api/v1/...` and checks their answers.

    Authentication is the bearer `token` when given, else whatever session cookie the
    underlying client holds (set by `POST /auth/login`).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        correlation_id: str | None = None,
        user_agent: str = "loom-client",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.correlation_id = correlation_id
        self.last_correlation_id: str | None = None
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: Collection[int] = (200,),
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; return the response if its status is in `ok`, else raise.
        `timeout` replaces the client's for a call known to take longer."""
        cid = self.correlation_id or new_correlation_id()
        self.last_correlation_id = cid
        headers = {CORRELATION_HEADER: cid}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, params=clean, json=json, headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise ConnectionFailed(self.base_url, _reason(exc)) from None
        if response.status_code not in ok:
            raise error_from(response)
        return response

    def get(self, path: str, model: type[M], **kwargs: Any) -> M:
        return parse(self.request("GET", path, **kwargs), model)

    def post(self, path: str, model: type[M], **kwargs: Any) -> M:
        return parse(self.request("POST", path, **kwargs), model)

    def get_list(self, path: str, model: type[M], **kwargs: Any) -> list[M]:
        """Every item of a paginated list endpoint, following next_cursor."""
        items: list[M] = []
        params = dict(kwargs.pop("params", None) or {})
        params.setdefault("limit", 500)
        while True:
            response = self.request("GET", path, params=params, **kwargs)
            page = parse_as(response, Page[model])  # type: ignore[valid-type]
            items.extend(page.items)
            if not page.next_cursor:
                return items
            params["cursor"] = page.next_cursor


def _param(value: Any) -> Any:
    """Query values as the API expects them (UUIDs and datetimes as their ISO strings)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value) if isinstance(value, uuid.UUID) else value


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        return "connection refused" if "refused" in text.lower() else (text or "cannot connect")
    return str(exc) or type(exc).__name__


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponse(
            response.status_code,
            f"not JSON: {response.text[:200]!r}",
            response.headers.get(CORRELATION_HEADER),
        ) from None


def error_from(response: httpx.Response) -> ApiError | UnexpectedResponse:
    """The `ApiError` in a response's error envelope (or `UnexpectedResponse` without one)."""
    header_cid = response.headers.get(CORRELATION_HEADER)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        snippet = response.text[:200] or response.reason_phrase
        return UnexpectedResponse(response.status_code, snippet, header_cid)
    details = [
        FieldIssue(str(d.get("field", "")), str(d.get("issue", "")))
        for d in error.get("details") or []
        if isinstance(d, dict)
    ]
    return ApiError(
        status=response.status_code,
        code=str(error.get("code") or "ERROR"),
        message=str(error.get("message") or response.reason_phrase),
        details=details,
        correlation_id=error.get("correlation_id") or header_cid,
    )


def parse(response: httpx.Response, model: type[M]) -> M:
    return parse_as(response, model)


def parse_as(response: httpx.Response, shape: type[T]) -> T:
    """Validate a response body against `shape`, or raise `UnexpectedResponse`."""
    data = _json(response)
    try:
        return TypeAdapter(shape).validate_python(data)
    except ValidationError as exc:
        raise UnexpectedResponse(
            response.status_code,
            f"body does not match {getattr(shape, '__name__', shape)}: {exc.errors()[0]['msg']}",
            response.headers.get(CORRELATION_HEADER),
        ) from None
