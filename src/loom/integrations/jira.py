"""The JIRA REST client (Cloud and Data Center/Server) used by the `jira-ticket` action,
escalation and the request page: auth headers, URLs, create issue, "Blocks" links, JQL
search, a ticket's status in Loom's words, and browse URLs.

Every call goes through `loom.actions.calls.send`: logged to the task, bounded by its
deadline, behind the instance's circuit breaker (integration `jira:<instance>`), and a
failure is an ActionFailed naming the remote status and JIRA's error messages, secrets
masked. Reads (GET) are retried at most twice, after a short pause, on a 5xx or a
transport error, unless the circuit has opened meanwhile; writes never are.

Search: an API-token instance (Cloud) uses `/search/jql` (`nextPageToken` paging; the
older `/search` is gone from Cloud), a PAT instance (Data Center) `/search` (`startAt`);
a 404 from `/search/jql` falls back to `/search` (Data Center with basic auth).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from loom.actions.base import DEADLINE_MARGIN_SECONDS, ActionContext, ActionFailed
from loom.actions.calls import CallResult, body_excerpt, send
from loom.integrations.instances import choose
from loom.integrations.settings import JiraInstance
from loom.settings import Settings

LoomStatus = Literal["open", "in_progress", "done"]
BLOCKS = "Blocks"
GET_RETRIES = 2
BACKOFF_SECONDS = (0.2, 0.5)
_CATEGORY = {"new": "open", "indeterminate": "in_progress", "done": "done"}
_MESSAGE_CHARS = 300


class TicketNotFound(ActionFailed):
    """JIRA answered 404 for a ticket: deleted, moved out of sight, or no permission."""


@dataclass(frozen=True)
class Ticket:
    key: str
    id: str
    url: str  # where people open it


@dataclass(frozen=True)
class TicketStatus:
    key: str
    status: LoomStatus
    raw_status: str
    resolution: str | None
    url: str


def jira_instance(settings: Settings, name: str | None = None) -> tuple[str, JiraInstance]:
    """The configured instance named `name`, else `default`, else the only one."""
    return choose("JIRA", "jira", settings.integrations.jira, name)


def loom_status(status: Mapping[str, Any], done_statuses: Collection[str]) -> LoomStatus:
    """A JIRA `status` object in Loom's words: by its status category (new, indeterminate,
    done), and done whatever the category when its name is one of `done_statuses`."""
    name = str(status.get("name") or "")
    if name.casefold() in {done.casefold() for done in done_statuses}:
        return "done"
    category = (status.get("statusCategory") or {}).get("key")
    found: LoomStatus = _CATEGORY.get(str(category), "open")  # type: ignore[assignment]
    return found


class JiraClient:
    """Calls to one JIRA instance on behalf of one task (`ctx`)."""

    def __init__(
        self,
        name: str,
        instance: JiraInstance,
        ctx: ActionContext[Any],
        *,
        retries: int = GET_RETRIES,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        timeout_seconds: float | None = None,
    ) -> None:
        self.name, self.instance, self.ctx = name, instance, ctx
        self.integration = f"jira:{name}"
        self.retries, self.backoff, self.timeout_seconds = retries, backoff, timeout_seconds
        self.base_url = instance.base_url.rstrip("/")
        try:
            base = httpx.URL(self.base_url)
        except httpx.InvalidURL:
            base = httpx.URL("")
        if base.scheme not in ("http", "https") or not base.host:
            raise ActionFailed(f"JIRA instance {name!r}: base_url {instance.base_url!r} is not "
                               "an http(s) URL")  # fmt: skip
        self._netloc = base.netloc.decode("ascii")
        token = instance.token.get_secret_value()
        if not token:
            raise ActionFailed(f"JIRA instance {name!r} has no token (LOOM_INTEGRATIONS__JIRA__"
                               f"{name.upper()}__TOKEN)")  # fmt: skip
        if instance.auth == "pat":
            credential, self._auth = token, f"Bearer {token}"
        else:
            credential = base64.b64encode(f"{instance.email}:{token}".encode()).decode()
            self._auth = f"Basic {credential}"
        ctx.add_secret(token)
        ctx.add_secret(credential)
        # The operator configured this host: it may be called whatever allowed_hosts says.
        ctx.http.client(self.integration, extra_hosts=[base.host])

    @classmethod
    def of(cls, ctx: ActionContext[Any], name: str | None = None, **kwargs: Any) -> JiraClient:
        """A client of the instance `name` (else the default one) from `ctx.settings`."""
        chosen, instance = jira_instance(ctx.settings, name)
        return cls(chosen, instance, ctx, **kwargs)

    def api(self, path: str) -> str:
        return f"{self.base_url}/rest/api/{self.instance.api_version}/{path}"

    def browse_url(self, key: str) -> str:
        return f"{(self.instance.browse_url or self.base_url).rstrip('/')}/browse/{key}"

    async def create_issue(self, fields: Mapping[str, Any]) -> Ticket:
        """Create an issue (`fields` as in JIRA's create call); 201 → the new ticket."""
        result = await self._send("POST", self.api("issue"), json_body={"fields": dict(fields)})
        self._expect(result, {201}, "creating the ticket")
        body = result.body if isinstance(result.body, dict) else {}
        key = str(body.get("key") or "")
        if not key:
            raise ActionFailed(f"JIRA {self.name}: the create call answered 201 without a key: "
                               f"{body_excerpt(self.ctx, result.body)}")  # fmt: skip
        return Ticket(key, str(body.get("id") or ""), self.browse_url(key))

    async def link_blocks(self, blocker: str, blocked: str) -> None:
        """`blocker` blocks `blocked` ("is blocked by" shows on `blocked`). JIRA makes the
        request's inwardIssue the one that blocks; repeating a link is harmless."""
        body = {"type": {"name": BLOCKS}, "inwardIssue": {"key": blocker},
                "outwardIssue": {"key": blocked}}  # fmt: skip
        result = await self._send("POST", self.api("issueLink"), json_body=body)
        self._expect(result, {200, 201}, f"linking {blocker} (blocks) to {blocked}")

    async def issue(self, key: str, fields: Sequence[str]) -> dict[str, Any]:
        """The issue's JSON with only `fields`; TicketNotFound for a 404."""
        params = {"fields": ",".join(fields)}
        result = await self._get(self.api(f"issue/{key}"), params)
        if result.status == 404:
            raise TicketNotFound(f"JIRA {self.name}: ticket {key} not found (deleted, or Loom's "
                                 f"account may not see it)")  # fmt: skip
        self._expect(result, {200}, f"reading {key}")
        return result.body if isinstance(result.body, dict) else {}

    async def status(self, key: str) -> TicketStatus:
        fields = (await self.issue(key, ["status", "resolution"])).get("fields") or {}
        status = fields.get("status") or {}
        resolution = (fields.get("resolution") or {}).get("name")
        return TicketStatus(
            key,
            loom_status(status, self.instance.done_statuses),
            str(status.get("name") or ""),
            str(resolution) if resolution else None,
            self.browse_url(key),
        )

    async def search(
        self, jql: str, fields: Sequence[str] = ("summary", "status"), limit: int = 50
    ) -> list[dict[str, Any]]:
        """Up to `limit` issues matching `jql`, each with `key` and `fields`."""
        if self.instance.auth != "pat":
            found = await self._search_jql(jql, fields, limit)
            if found is not None:
                return found
        return await self._search_paged(jql, fields, limit)

    async def _search_jql(
        self, jql: str, fields: Sequence[str], limit: int
    ) -> list[dict[str, Any]] | None:
        issues: list[dict[str, Any]] = []
        token: str | None = None
        while len(issues) < limit:
            params = {"jql": jql, "fields": ",".join(fields), "maxResults": str(limit)}
            if token:
                params["nextPageToken"] = token
            result = await self._get(self.api("search/jql"), params)
            if result.status == 404 and not issues:
                return None  # not Cloud: the older endpoint
            self._expect(result, {200}, "searching")
            body = result.body if isinstance(result.body, dict) else {}
            issues.extend(body.get("issues") or [])
            token = body.get("nextPageToken")
            if body.get("isLast", True) or not token:
                break
        return issues[:limit]

    async def _search_paged(
        self, jql: str, fields: Sequence[str], limit: int
    ) -> list[dict[str, Any]]:
        issues: list[dict[str, Any]] = []
        while len(issues) < limit:
            params = {"jql": jql, "fields": ",".join(fields), "startAt": str(len(issues)),
                      "maxResults": str(limit - len(issues))}  # fmt: skip
            result = await self._get(self.api("search"), params)
            self._expect(result, {200}, "searching")
            body = result.body if isinstance(result.body, dict) else {}
            page = body.get("issues") or []
            issues.extend(page)
            if not page or len(issues) >= int(body.get("total") or 0):
                break
        return issues[:limit]

    # --- calls ----------------------------------------------------------------------

    async def _send(
        self, method: str, url: str, *, params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> CallResult:  # fmt: skip
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        return await send(
            self.ctx, self.integration, method, url, headers=headers, params=params,
            json_body=json_body, timeout_seconds=self.timeout_seconds,
        )  # fmt: skip

    async def _get(self, url: str, params: Mapping[str, str]) -> CallResult:
        """A GET retried on a 5xx or a transport error while the circuit stays closed
        and the deadline leaves room; otherwise the last answer (or failure) stands."""
        attempt = 0
        while True:
            try:
                result = await self._send("GET", url, params=params)
            except ActionFailed as failure:
                if not failure.retryable or not self._may_retry(attempt):
                    raise
            else:
                if result.status < 500 or not self._may_retry(attempt):
                    return result
            pause = self._pause(attempt)
            self.ctx.log(f"JIRA {self.name}: trying again in {pause:g} s", "warning")
            await asyncio.sleep(pause)
            attempt += 1

    def _pause(self, attempt: int) -> float:
        return self.backoff[min(attempt, len(self.backoff) - 1)] if self.backoff else 0.0

    def _may_retry(self, attempt: int) -> bool:
        left = self.ctx.time_left()
        room = left is None or left > self._pause(attempt) + 2 * DEADLINE_MARGIN_SECONDS
        return attempt < self.retries and room and not self._circuit_open()

    def _circuit_open(self) -> bool:
        return self.ctx.http.breaker(self.integration, self._netloc).state == "open"

    def _expect(self, result: CallResult, statuses: Collection[int], doing: str) -> None:
        if result.status in statuses:
            return
        reason = _jira_errors(result.body) or body_excerpt(self.ctx, result.body)
        reason = self.ctx.mask(reason)[:_MESSAGE_CHARS]
        where = self.ctx.mask(f"{result.method} {result.url}")
        raise ActionFailed(
            f"JIRA {self.name}: {doing} failed: {where} answered {result.status}: {reason}",
            retryable=result.status in (408, 429) or result.status >= 500,
        )


def _jira_errors(body: Any) -> str:
    """JIRA's error body (`{"errorMessages": [...], "errors": {field: message}}`) as one
    line: "summary: You must specify a summary of the issue."; "" for another body."""
    if not isinstance(body, dict) or not ({"errorMessages", "errors"} & set(body)):
        return ""
    messages = [str(m) for m in body.get("errorMessages") or []]
    errors = body.get("errors") or {}
    if isinstance(errors, dict):
        messages += [f"{name}: {message}" for name, message in errors.items()]
    return " ".join("; ".join(messages).split())
