"""Terraform Cloud / Terraform Enterprise (API v2, JSON:API) for actions and pages: find
a workspace, set its variables, start a run, follow it, read the state outputs.

Every call goes through `loom.actions.calls.send` on the instance's own client
(`terraform:<instance>`, its host allowed because an operator configured it), with the
instance's token as a bearer token (masked everywhere). Reads are retried twice, briefly,
on a 5xx or a transport error (not while the circuit is open, nor when the answer says
Retry-After); writes never are. A failed
call raises `ActionFailed` naming the remote status and the `errors[].title/detail` of
the JSON:API answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from loom.actions.base import ActionContext, ActionFailed
from loom.actions.calls import CallResult, body_excerpt, send
from loom.integrations import hcl
from loom.integrations.instances import choose
from loom.integrations.settings import TerraformInstance

JSONAPI = "application/vnd.api+json"
#: Pauses before the retries of a read (two retries at most).
READ_BACKOFF_SECONDS = (0.2, 0.6)
#: How far back `find_run` looks when the search filter is not honoured (older TFE).
SEARCH_PAGES = 5
_PAGE_SIZE = 100


class OutputsNotReady(ActionFailed):
    """The workspace's state is still being processed (503): its outputs come later."""


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    organization: str
    auto_apply: bool


@dataclass(frozen=True)
class Run:
    id: str
    status: str
    message: str
    plan_only: bool
    has_changes: bool
    is_confirmable: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        attributes = data.get("attributes") or {}
        actions = attributes.get("actions") or {}
        return cls(
            str(data["id"]),
            str(attributes.get("status", "")),
            str(attributes.get("message") or ""),
            bool(attributes.get("plan-only")),
            bool(attributes.get("has-changes")),
            bool(actions.get("is-confirmable")),
        )


@dataclass(frozen=True)
class StateOutput:
    id: str
    name: str
    value: Any
    sensitive: bool


@dataclass(frozen=True)
class Variable:
    id: str
    key: str
    category: str


class TerraformClient:
    """One Terraform instance as seen from one task attempt (`ctx`)."""

    def __init__(self, name: str, instance: TerraformInstance, ctx: ActionContext[Any]) -> None:
        token = instance.token.get_secret_value()
        if not token:
            raise ActionFailed(
                f"the Terraform instance {name!r} has no token "
                f"(LOOM_INTEGRATIONS__TERRAFORM__{name.upper()}__TOKEN)"
            )
        ctx.add_secret(token)
        self.name = name
        self.instance = instance
        self.base_url = instance.base_url.rstrip("/")
        self.integration = f"terraform:{name}"
        self._ctx = ctx
        self._headers = {"Authorization": f"Bearer {token}", "Accept": JSONAPI}
        host = httpx.URL(self.base_url).host
        ctx.http.client(self.integration, extra_hosts=[host] if host else [])

    @classmethod
    def for_context(cls, ctx: ActionContext[Any], instance: str | None) -> TerraformClient:
        terraform = ctx.settings.integrations.terraform
        name, settings = choose("Terraform", "terraform", terraform, instance)
        return cls(name, settings, ctx)

    def organization(self, wanted: str | None) -> str:
        """`wanted`, else the instance's default organization."""
        organization = wanted or self.instance.organization
        if not organization:
            raise ActionFailed(
                f"no organization: set organization, or integrations.terraform.{self.name}"
                ".organization"
            )
        return organization

    def run_url(self, organization: str, workspace: str, run_id: str) -> str:
        """Where a person opens the run in the Terraform UI."""
        return f"{self.base_url}/app/{organization}/workspaces/{workspace}/runs/{run_id}"

    # --- workspaces and variables ---------------------------------------------------

    async def workspace(self, organization: str, name: str) -> Workspace:
        path = f"/organizations/{_segment(organization)}/workspaces/{_segment(name)}"
        data = (await self._document("GET", path, f"reading workspace {organization}/{name}"))[
            "data"
        ]
        attributes = data.get("attributes") or {}
        return Workspace(data["id"], name, organization, bool(attributes.get("auto-apply")))

    async def variables(self, workspace_id: str) -> list[Variable]:
        body = await self._document("GET", f"/workspaces/{workspace_id}/vars", "listing variables")
        return [
            Variable(var["id"], var["attributes"]["key"], var["attributes"]["category"])
            for var in body.get("data") or []
        ]

    async def set_variable(
        self,
        workspace_id: str,
        key: str,
        value: str,
        *,
        hcl_value: bool,
        sensitive: bool,
        existing: list[Variable],
    ) -> None:
        """Create or update the Terraform variable `key` of the workspace."""
        attributes = {
            "key": key,
            "value": value,
            "category": "terraform",
            "hcl": hcl_value,
            "sensitive": sensitive,
        }
        match = next((v for v in existing if v.key == key and v.category == "terraform"), None)
        if match is None:
            document = {"data": {"type": "vars", "attributes": attributes}}
            path = f"/workspaces/{workspace_id}/vars"
            await self._document("POST", path, f"creating variable {key}", document, expect=(201,))
        else:
            document = {"data": {"id": match.id, "type": "vars", "attributes": attributes}}
            path = f"/workspaces/{workspace_id}/vars/{match.id}"
            await self._document("PATCH", path, f"updating variable {key}", document)

    # --- runs -----------------------------------------------------------------------

    async def create_run(
        self,
        workspace_id: str,
        *,
        message: str,
        is_destroy: bool = False,
        plan_only: bool = False,
        auto_apply: bool | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Run:
        """Queue a run; `variables` (JSON values) become run-specific variables, each
        value written as an HCL expression."""
        run_variables = []
        for key, value in (variables or {}).items():
            try:
                run_variables.append({"key": key, "value": hcl.encode(value)})
            except ValueError as exc:
                raise ActionFailed(f"variable {key!r}: {exc}") from None
        attributes: dict[str, Any] = {
            "message": message,
            "is-destroy": is_destroy,
            "plan-only": plan_only,
            "variables": run_variables,
        }
        if auto_apply is not None and not plan_only:
            attributes["auto-apply"] = auto_apply
        document = {
            "data": {
                "type": "runs",
                "attributes": attributes,
                "relationships": {
                    "workspace": {"data": {"type": "workspaces", "id": workspace_id}}
                },
            }
        }
        body = await self._document("POST", "/runs", "starting a run", document, expect=(201,))
        return Run.from_json(body["data"])

    async def run(self, run_id: str) -> Run:
        body = await self._document("GET", f"/runs/{run_id}", "reading the run")
        return Run.from_json(body["data"])

    async def find_run(
        self, workspace_id: str, marker: str, search: str | None = None
    ) -> Run | None:
        """The newest run of the workspace whose message contains `marker`, among those
        Terraform's search finds for `search` (default: the marker; one distinctive word
        is safest, since how the search matches phrases is not documented)."""
        for page in range(1, SEARCH_PAGES + 1):
            params = {
                "search[basic]": search or marker,
                "page[number]": str(page),
                "page[size]": str(_PAGE_SIZE),
            }
            path = f"/workspaces/{workspace_id}/runs"
            body = await self._document("GET", path, "looking for an earlier run", params=params)
            for data in body.get("data") or []:
                run = Run.from_json(data)
                if marker in run.message:
                    return run
            if not _next_page(body):
                return None
        return None

    async def apply(self, run_id: str, comment: str) -> bool:
        """Confirm a planned run; False when it no longer awaits confirmation (409)."""
        path = f"/runs/{run_id}/actions/apply"
        answer = await self._call(
            "POST", path, "confirming the apply", {"comment": comment}, expect=(202, 409)
        )
        return answer.status == 202

    # --- state outputs --------------------------------------------------------------

    async def outputs(self, workspace_id: str) -> list[StateOutput]:
        """The workspace's current state outputs, sensitive values as None.
        OutputsNotReady while the state is being processed."""
        found: list[StateOutput] = []
        page: int | None = 1
        while page is not None:
            params = {"page[number]": str(page), "page[size]": str(_PAGE_SIZE)}
            path = f"/workspaces/{workspace_id}/current-state-version-outputs"
            body = await self._document("GET", path, "reading the state outputs", params=params)
            found.extend(_output(data) for data in body.get("data") or [])
            page = _next_page(body)
        return found

    async def output(self, output_id: str) -> StateOutput:
        """One output with its value, sensitive or not."""
        path = f"/state-version-outputs/{output_id}"
        return _output((await self._document("GET", path, "reading a sensitive output"))["data"])

    # --- the one way to call --------------------------------------------------------

    async def _document(
        self,
        method: str,
        path: str,
        doing: str,
        document: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        """The JSON:API document answered (see `_call`)."""
        result = await self._call(method, path, doing, document, params=params, expect=expect)
        if not isinstance(result.body, dict) or "data" not in result.body:
            raise ActionFailed(
                f"Terraform: {doing}: {self._ctx.mask(result.method + ' ' + result.url)} "
                f"answered {result.status} without a JSON:API document: "
                f"{body_excerpt(self._ctx, result.body)}"
            )
        return result.body

    async def _call(
        self,
        method: str,
        path: str,
        doing: str,
        document: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> CallResult:
        """The answer when its status is in `expect`; ActionFailed otherwise, after
        retrying a read on a 5xx or transport error while the circuit is not open."""
        ctx, url = self._ctx, f"{self.base_url}/api/v2{path}"
        headers = dict(self._headers)
        if document is not None:
            headers["Content-Type"] = JSONAPI
        pauses = READ_BACKOFF_SECONDS if method == "GET" else ()
        for attempt in range(len(pauses) + 1):
            retry = attempt < len(pauses) and self._may_retry(url)
            try:
                result = await send(
                    ctx,
                    self.integration,
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json_body=document,
                    sensitive_headers=("Authorization",),
                )
            except ActionFailed as exc:
                if not (exc.retryable and retry):
                    message = f"Terraform: {doing}: {exc.message}"
                    raise ActionFailed(message, retryable=exc.retryable) from None
            else:
                if result.status in expect:
                    return result
                # A Retry-After (state outputs still processed) asks for longer than a
                # short pause: that answer goes back to the caller.
                later = "retry-after" in result.headers
                if not (result.status >= 500 and retry and not later):
                    raise self._failure(doing, result)
            left = ctx.time_left()
            await asyncio.sleep(pauses[attempt] if left is None else min(pauses[attempt], left))
        raise AssertionError("unreachable")  # pragma: no cover

    def _may_retry(self, url: str) -> bool:
        host = httpx.URL(url).netloc.decode("ascii")
        return self._ctx.http.breaker(self.integration, host).state != "open"

    def _failure(self, doing: str, result: CallResult) -> ActionFailed:
        ctx = self._ctx
        errors = result.body.get("errors") if isinstance(result.body, dict) else None
        described = "; ".join(
            ": ".join(str(error[k]) for k in ("title", "detail") if error.get(k))
            for error in (errors if isinstance(errors, list) else [])
            if isinstance(error, dict)
        )
        reason = ctx.mask(described) if described else body_excerpt(ctx, result.body)
        message = (
            f"Terraform: {doing}: {ctx.mask(result.method + ' ' + result.url)} "
            f"answered {result.status}: {reason}"
        )
        if result.status == 503 and "current-state-version-outputs" in result.url:
            return OutputsNotReady(message, retryable=True)
        retryable = result.status in (408, 429) or result.status >= 500
        return ActionFailed(message, retryable=retryable)


def _segment(name: str) -> str:
    """A name as one URL path segment (a `/` in a templated name cannot change the path)."""
    return quote(name, safe="")


def _next_page(body: Mapping[str, Any]) -> int | None:
    pagination = (body.get("meta") or {}).get("pagination") or {}
    following = pagination.get("next-page")
    return int(following) if following else None


def _output(data: Mapping[str, Any]) -> StateOutput:
    attributes = data.get("attributes") or {}
    return StateOutput(
        str(data["id"]),
        str(attributes.get("name", "")),
        attributes.get("value"),
        bool(attributes.get("sensitive")),
    )
