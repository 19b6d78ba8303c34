"""The `rest-api` action: one HTTP call described in the catalog (`RestApiConfig`),
its status checked against `expectStatus` and `outputMap` paths read from the answer
(see loom.actions.response_paths).

Credentials never sit in catalog text. A header value may contain references resolved
when the task runs, and masked in every log line and error:

* `${env:NAME}`: an environment variable of the Loom process; only names starting with
  `http.header_env_prefix` (default `LOOM_ACTION_`) may be read, so a catalog author
  cannot send, say, `LOOM_SECRET_KEY` anywhere;
* `${secret:path}`: a secret form field of this request (`${secret:api_token}`), handed
  only to this task.

A header named like a credential (`Authorization`, `Proxy-Authorization`, `Cookie`, and
any name containing token, secret, password, api-key, credential...) must take its value
from such a reference or from a secret form field (`{{ .current.webhook_secret }}`);
literal text there is refused before anything is sent, because it would be a credential
stored in git. References work in header values only.

Every call carries `Idempotency-Key: <task id>` (unless the config sets that header
itself), the same for every attempt of the task, so an API that deduplicates on it
turns a repeat after a crash into a no-op.

A task attempted before (its worker died mid-call, or a person retried it) may already
have had its effect. Without a `reconcile` block the call is simply made again: safe
exactly when the remote side honours the key or the call is idempotent (PUT, DELETE).
With one, the worker first looks the effect up, in a request written like the call
(templated url, query, headers; `.system.taskId` names the task):

    reconcile:
      url: "https://api.example/records?loom_task={{ .system.taskId }}"
      foundStatus: [200]        # the effect exists: its outputs come from this answer
      notFoundStatus: [404]     # no earlier attempt took effect: make the call
      outputMap: {record_id: response.body.id}   # the same keys as the call's outputMap

Any other answer (or none) fails the task without calling: whether the earlier attempt
took effect is unknown, and a person decides (retry runs the lookup again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import RestApiConfig
from loom.actions.calls import CallResult, send, status_failure
from loom.actions.response_paths import PathMissing, lookup
from loom.platform.http import is_credential_header

INTEGRATION = "rest-api"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_REFERENCE = re.compile(r"\$\{(env|secret):([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RestApi:
    """Executor of `rest-api` tasks."""

    config_model: ClassVar[type[BaseModel]] = RestApiConfig

    async def execute(self, ctx: ActionContext[RestApiConfig]) -> ActionResult:
        return await call(ctx, ctx.config)

    async def reconcile(self, ctx: ActionContext[RestApiConfig]) -> ActionResult | None:
        """The effect found by the config's `reconcile` lookup; None when the lookup says
        there is none, or when the config has no lookup (the call is made again)."""
        config, lookup_call = ctx.config, ctx.config.reconcile
        if lookup_call is None:
            return None
        ctx.log("looking for the effect of an earlier attempt")
        headers, sensitive = resolve_headers(lookup_call.headers, ctx)
        result = await send(
            ctx,
            INTEGRATION,
            lookup_call.method,
            lookup_call.url,
            headers=headers,
            params=lookup_call.query,
            json_body=lookup_call.json_body,
            timeout_seconds=lookup_call.timeout_seconds or config.timeout_seconds,
            sensitive_headers=sensitive,
        )
        if result.status in lookup_call.not_found_status:
            ctx.log("no earlier attempt took effect: making the call")
            return None
        if result.status not in lookup_call.found_status:
            known = [*lookup_call.found_status, *lookup_call.not_found_status]
            unknown = status_failure(ctx, result, known)
            raise ActionFailed(
                f"reconcile: {unknown.message}; whether an earlier attempt took effect is "
                "unknown, so the call was not made: check, then retry or abort",
                retryable=unknown.retryable,
            )
        ctx.log("found the effect of an earlier attempt: not calling again")
        return _result(ctx, lookup_call.output_map, result)


async def call(ctx: ActionContext[Any], config: RestApiConfig) -> ActionResult:
    """Make the call `config` describes for the task of `ctx` (also how other actions
    make a rest-api style call, such as a callback's notify)."""
    headers, sensitive = resolve_headers(config.headers, ctx)
    if not any(name.lower() == IDEMPOTENCY_HEADER.lower() for name in headers):
        headers[IDEMPOTENCY_HEADER] = str(ctx.task_id)
    result = await send(
        ctx,
        INTEGRATION,
        config.method,
        config.url,
        headers=headers,
        params=config.query,
        json_body=config.json_body,
        form=config.form,
        timeout_seconds=config.timeout_seconds,
        expect_status=config.expect_status,
        sensitive_headers=sensitive,
    )
    return _result(ctx, config.output_map, result)


def _result(
    ctx: ActionContext[RestApiConfig], output_map: Mapping[str, str], result: CallResult
) -> ActionResult:
    """The task's result: `output_map` read from the answer, its URL as the reference."""
    outputs = {}
    for key, path in output_map.items():
        try:
            outputs[key] = lookup(path, result.view())
        except (PathMissing, ValueError) as exc:
            raise ActionFailed(f"output {key!r}: {exc}") from None
    if outputs:
        ctx.log("outputs: " + ", ".join(sorted(outputs)))
    return ctx.result(outputs, {"url": ctx.mask(result.url)})


def resolve_headers(
    headers: Mapping[str, str], ctx: ActionContext[RestApiConfig]
) -> tuple[dict[str, str], list[str]]:
    """Header values with `${env:}`/`${secret:}` resolved (and registered for masking),
    and the names of the headers that carry a secret. ActionFailed for an unknown
    reference, a literal credential or a value with a line break."""
    resolved: dict[str, str] = {}
    sensitive: list[str] = []
    for name, value in headers.items():
        referenced = bool(_REFERENCE.search(value))
        text = _resolve_references(name, value, ctx)
        from_secret_field = any(secret and secret in text for secret in ctx.secrets.values())
        if is_credential_header(name) and not (referenced or from_secret_field):
            raise ActionFailed(
                f"header {name!r} carries a credential written in the catalog; "
                "use ${env:NAME} or ${secret:path} (or a secret form field) instead"
            )
        if "\r" in text or "\n" in text:
            raise ActionFailed(f"header {name!r}: the value contains a line break")
        if referenced or from_secret_field:
            sensitive.append(name)
        resolved[name] = text
    return resolved, sensitive


def _resolve_references(header: str, value: str, ctx: ActionContext[RestApiConfig]) -> str:
    def resolve(match: re.Match[str]) -> str:
        return _reference(match[1], match[2].strip(), header, ctx)

    return _REFERENCE.sub(resolve, value)


def _reference(kind: str, key: str, header: str, ctx: ActionContext[RestApiConfig]) -> str:
    if kind == "secret":
        if key not in ctx.secrets:
            raise ActionFailed(f"header {header!r}: secret {key!r} is not available to this task")
        return ctx.secrets[key]
    prefix = ctx.settings.http.header_env_prefix
    if not (_ENV_NAME.match(key) and key.startswith(prefix)):
        raise ActionFailed(
            f"header {header!r}: ${{env:{key}}} refused; only variables starting with "
            f"{prefix} may be used (http.header_env_prefix)"
        )
    value = ctx.env.get(key)
    if not value:
        raise ActionFailed(f"header {header!r}: environment variable {key} is not set")
    ctx.add_secret(value)
    return value
