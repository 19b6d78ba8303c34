"""One HTTP call made by an action, the same way for every integration (rest-api, JIRA,
GitHub...): through the shared client factory, bounded in time and response size,
logged to the task, with every failure turned into an `ActionFailed` that names the
remote status and a short body excerpt, secrets masked.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from loom.actions.base import ActionContext, ActionFailed
from loom.actions.response_paths import ResponseView
from loom.audit.masking import mask_secrets
from loom.platform.http import SENSITIVE_HEADERS_EXTENSION, CircuitOpen, HostNotAllowed

EXCERPT_CHARS = 300


@dataclass(frozen=True)
class CallResult:
    """The answer to a call: status, headers, body (parsed JSON when the response says it
    is JSON, else text) and the final URL after redirects."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: Any
    elapsed_ms: int
    #: The body as received (a zip archive, say, which `body` would garble as text).
    content: bytes = field(default=b"", repr=False)

    def view(self) -> ResponseView:
        return ResponseView(self.status, self.headers, self.body)


async def send(
    ctx: ActionContext[Any],
    integration: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
    expect_status: Collection[int] | None = None,
    sensitive_headers: Collection[str] = (),
) -> CallResult:
    """Make one call with `ctx.http.client(integration)`.

    `timeout_seconds` (default: the http settings) bounds the whole call and is cut to
    the task's deadline. `params` are added to any query the URL has. With
    `expect_status`, any other status raises ActionFailed (retryable for 408, 429 and
    5xx). `sensitive_headers` are dropped if a redirect leaves the origin
    (credential-named headers always are).
    """
    target = _target(ctx, method, url, params)
    limit = ctx.timeout(timeout_seconds or ctx.http.settings.timeout_seconds)
    shown = ctx.mask(f"{method} {target}")
    ctx.log(shown)
    started = time.monotonic()
    client = ctx.http.client(integration)
    try:
        async with asyncio.timeout(limit):
            request = client.build_request(
                method,
                target,
                headers=dict(headers or {}),
                json=json_body,
                data=dict(form) if form is not None else None,
                timeout=httpx.Timeout(limit),
                extensions={SENSITIVE_HEADERS_EXTENSION: list(sensitive_headers)},
            )
            response = await client.send(request, stream=True)
            try:
                raw = await _read_limited(response, ctx.http.settings.max_response_bytes, shown)
            finally:
                await response.aclose()
    except TimeoutError:
        # The bound above cancelled the call inside the transport, which counts nothing on
        # a cancellation: the host's breaker must still count the timeout as a failure.
        ctx.http.breaker(integration, target.netloc.decode("ascii")).record_failure()
        raise ActionFailed(f"{shown}: no answer within {limit:g} s", retryable=True) from None
    except httpx.TimeoutException:  # the transport's own timeout: already counted
        raise ActionFailed(f"{shown}: no answer within {limit:g} s", retryable=True) from None
    except HostNotAllowed as exc:
        raise ActionFailed(f"{shown}: {exc}", retryable=False) from None
    except CircuitOpen as exc:
        raise ActionFailed(f"{shown}: {exc}", retryable=True) from None
    except httpx.TooManyRedirects:
        raise ActionFailed(f"{shown}: too many redirects", retryable=False) from None
    except httpx.TransportError as exc:
        reason = ctx.mask(f"{type(exc).__name__}: {exc}")
        raise ActionFailed(f"{shown}: {reason}", retryable=True) from None
    elapsed = int((time.monotonic() - started) * 1000)
    result = CallResult(
        method,
        str(response.url),
        response.status_code,
        response.headers,
        _parse(response, raw),
        elapsed,
        raw,
    )
    ctx.log(f"{shown} → {result.status} in {elapsed} ms")
    if expect_status is not None and result.status not in expect_status:
        raise status_failure(ctx, result, expect_status)
    return result


def status_failure(
    ctx: ActionContext[Any], result: CallResult, expected: Collection[int]
) -> ActionFailed:
    """ActionFailed for an unexpected status, with a masked excerpt of the body."""
    wanted = ", ".join(str(status) for status in sorted(expected))
    message = (
        f"{ctx.mask(result.method + ' ' + result.url)} answered {result.status} "
        f"(expected {wanted}): {body_excerpt(ctx, result.body)}"
    )
    retryable = result.status in (408, 429) or result.status >= 500
    return ActionFailed(message, retryable=retryable)


def body_excerpt(ctx: ActionContext[Any], body: Any, limit: int = EXCERPT_CHARS) -> str:
    """A one-line excerpt of a response body: JSON values under secret-looking keys and
    every known secret value masked, whitespace collapsed, cut to `limit` characters."""
    if body is None or body == "":
        return "(empty body)"
    text = body if isinstance(body, str) else json.dumps(mask_secrets(body), ensure_ascii=False)
    text = " ".join(ctx.mask(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _target(
    ctx: ActionContext[Any], method: str, url: str, params: Mapping[str, str] | None
) -> httpx.URL:
    """The absolute http(s) URL to call, `params` merged into its query."""
    try:
        target = httpx.URL(url).copy_merge_params(dict(params or {}))
    except httpx.InvalidURL as exc:
        raise ActionFailed(ctx.mask(f"{method} {url}: not a valid URL ({exc})")) from None
    if target.scheme not in ("http", "https") or not target.host:
        raise ActionFailed(ctx.mask(f"{method} {url}: not an absolute http:// or https:// URL"))
    return target


async def _read_limited(response: httpx.Response, max_bytes: int, shown: str) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ActionFailed(
                f"{shown}: response larger than {max_bytes} bytes (http.max_response_bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(response: httpx.Response, raw: bytes) -> Any:
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", "").lower() and raw.strip():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
