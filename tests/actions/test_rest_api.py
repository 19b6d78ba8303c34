"""rest-api: one call against a real local HTTP server — bodies, query, expected status,
outputs from response paths, timeouts, Idempotency-Key and correlation id, header
references resolved and masked, literal credentials and disallowed hosts refused before
any connection, the circuit breaker seen through the action, and the `reconcile` lookup
(found: its outputs, no call; not found: the call; anything else: a failure)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from textwrap import dedent, indent
from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.base import ActionContext, ActionFailed, run_action, run_reconcile
from loom.actions.builtin import RestApiConfig
from loom.actions.registry import action_types
from loom.actions.rest_api import RestApi
from loom.audit.masking import MASK
from loom.catalog.loader import load_files
from loom.demo.fakes import FakeServer, RecordedCall, Reply
from loom.platform.http import HttpClients
from loom.settings import Settings

TOKEN = "tok-3f9a1c77e2"
API_KEY = "key-8d1b55aa90"
TASK_ID = "00000000-0000-0000-0000-00000000007a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> Settings:
    return Settings(
        env="test",
        allowed_hosts=["127.0.0.1"],
        http={"breaker_failure_threshold": 2, "breaker_cooldown_seconds": 30},
    )


@pytest.fixture
async def http(settings: Settings, clock: FakeClock) -> AsyncIterator[HttpClients]:
    clients = HttpClients.from_settings(settings, clock=clock)
    yield clients
    await clients.aclose()


@pytest.fixture
def make_ctx(http: HttpClients, settings: Settings) -> Any:
    def make(config: dict[str, Any], **extra: Any) -> ActionContext[RestApiConfig]:
        values: dict[str, Any] = {
            "request_id": uuid.uuid4(),
            "task_id": uuid.UUID(TASK_ID),
            "attempt": 1,
            "config": RestApiConfig.model_validate(config),
            "http": http,
            "settings": settings,
            "env": {},
            **extra,
        }
        return ActionContext(**values)

    return make


async def run(ctx: ActionContext[RestApiConfig]) -> Any:
    return await run_action(RestApi(), ctx)


async def failure(ctx: ActionContext[RestApiConfig]) -> ActionFailed:
    with pytest.raises(ActionFailed) as caught:
        await run(ctx)
    return caught.value


def log_text(ctx: ActionContext[Any]) -> str:
    return "\n".join(line.message for line in ctx.lines)


# --- success -----------------------------------------------------------------------


async def test_a_json_call_with_outputs_mapped(server: FakeServer, make_ctx: Any) -> None:
    server.route(
        "POST",
        "/v1/records",
        Reply(
            201,
            json={"id": 42, "items": [{"name": "first"}, {"name": "last"}], "ok": True},
            headers={"Location": "/v1/records/42"},
        ),
    )
    ctx = make_ctx(
        {
            "method": "POST",
            "url": server.url + "/v1/records",
            "json": {"name": "db-1", "tags": ["a", "b"], "size": 3},
            "expectStatus": [201],
            "outputMap": {
                "record_id": "response.body.id",
                "first": "response.body.items[0].name",
                "last": "response.body.items[-1].name",
                "location": "response.headers.location",
                "status": "response.status",
                "whole": "response.body",
            },
        }
    )
    result = await run(ctx)
    assert result.outputs == {
        "record_id": 42,
        "first": "first",
        "last": "last",
        "location": "/v1/records/42",
        "status": 201,
        "whole": {"id": 42, "items": [{"name": "first"}, {"name": "last"}], "ok": True},
    }
    assert result.external_refs == {"url": server.url + "/v1/records"}
    [call] = server.calls
    assert call.json() == {"name": "db-1", "tags": ["a", "b"], "size": 3}
    assert call.headers["content-type"] == "application/json"
    messages = [line.message for line in result.logs]
    assert messages[0] == f"POST {server.url}/v1/records"
    assert messages[1].startswith(f"POST {server.url}/v1/records → 201 in ")
    assert messages[2] == "outputs: first, last, location, record_id, status, whole"


async def test_a_form_body_and_query_parameters(server: FakeServer, make_ctx: Any) -> None:
    server.route("PUT", "/things", Reply(204))
    ctx = make_ctx(
        {
            "method": "PUT",
            "url": server.url + "/things?fixed=1",
            "query": {"dryRun": "false", "name": "a b&c"},
            "form": {"owner": "team-x", "note": "ü & more"},
        }
    )
    result = await run(ctx)
    assert result.outputs == {}
    assert result.logs[0].message == f"PUT {server.url}/things?fixed=1&dryRun=false&name=a+b%26c"
    [call] = server.calls
    assert call.query == {"fixed": ["1"], "dryRun": ["false"], "name": ["a b&c"]}
    assert call.form() == {"owner": ["team-x"], "note": ["ü & more"]}
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_a_get_with_a_text_answer(server: FakeServer, make_ctx: Any) -> None:
    server.route("GET", "/health", Reply(body="all good", headers={"Content-Type": "text/plain"}))
    ctx = make_ctx(
        {"method": "GET", "url": server.url + "/health", "outputMap": {"text": "response.body"}}
    )
    assert (await run(ctx)).outputs == {"text": "all good"}
    assert server.calls[0].body == b""


async def test_the_final_url_after_redirects_is_the_external_ref(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("GET", "/old", Reply(308, headers={"Location": "/new?x=1"}))
    server.route("GET", "/new", Reply(json={"id": "n"}))
    ctx = make_ctx({"method": "GET", "url": server.url + "/old"})
    assert (await run(ctx)).external_refs == {"url": server.url + "/new?x=1"}


# --- headers every call carries ------------------------------------------------------


async def test_idempotency_key_and_correlation_id_reach_the_server(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("POST", "/x", Reply(201))
    await run(make_ctx({"url": server.url + "/x"}, correlation_id="corr-77", attempt=2))
    await run(make_ctx({"url": server.url + "/x", "headers": {"idempotency-key": "mine"}}))
    first, second = server.calls
    assert first.headers["idempotency-key"] == "00000000-0000-0000-0000-00000000007a"
    assert first.headers["x-correlation-id"] == "corr-77"
    assert first.headers["user-agent"] == "loom/0.1"
    assert second.headers["idempotency-key"] == "mine"
    assert "x-correlation-id" not in second.headers


# --- reconcile: the effect of an earlier attempt ---------------------------------------


def with_lookup(server: FakeServer, **lookup: Any) -> dict[str, Any]:
    """A call that creates a record, and the lookup that finds it by task id."""
    return {
        "url": server.url + "/records",
        "json": {"name": "db-1"},
        "outputMap": {"record_id": "response.body.id"},
        "reconcile": {
            "url": server.url + "/records",
            "query": {"task": TASK_ID},
            "outputMap": {"record_id": "response.body.items[0].id"},
            **lookup,
        },
    }


async def reconciled(ctx: ActionContext[RestApiConfig]) -> Any:
    return await run_reconcile(RestApi(), ctx)


async def test_without_a_lookup_reconcile_finds_nothing(server: FakeServer, make_ctx: Any) -> None:
    assert await reconciled(make_ctx({"url": server.url + "/x"})) is None
    assert server.connections == 0  # so the worker makes the call again


async def test_a_found_effect_completes_the_task_with_its_outputs(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("GET", "/records", Reply(json={"items": [{"id": "r-7"}]}))
    server.route("POST", "/records", Reply(201, json={"id": "never"}))
    ctx = make_ctx(with_lookup(server, headers={"X-Team": "data"}), attempt=2)
    result = await reconciled(ctx)
    assert result.outputs == {"record_id": "r-7"}
    assert result.external_refs == {"url": f"{server.url}/records?task={TASK_ID}"}
    [call] = server.calls
    assert (call.method, call.query, call.headers["x-team"]) == ("GET", {"task": [TASK_ID]}, "data")
    assert "idempotency-key" not in call.headers  # a lookup, not an attempt
    assert "found the effect of an earlier attempt: not calling again" in log_text(ctx)


async def test_not_found_lets_the_call_be_made(server: FakeServer, make_ctx: Any) -> None:
    server.route("GET", "/records", Reply(404, json={"items": []}))
    server.route("POST", "/records", Reply(201, json={"id": "r-8"}))
    ctx = make_ctx(with_lookup(server), attempt=2)
    assert await reconciled(ctx) is None
    assert (await run(ctx)).outputs == {"record_id": "r-8"}
    assert [call.method for call in server.calls] == ["GET", "POST"]
    assert "no earlier attempt took effect: making the call" in log_text(ctx)


async def test_found_and_not_found_statuses_are_configurable(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("HEAD", "/records", Reply(204, headers={"X-Record-Id": "r-9"}))
    config = with_lookup(
        server, method="HEAD", foundStatus=[204], notFoundStatus=[200, 410],
        outputMap={"record_id": "response.headers.x-record-id"},
    )  # fmt: skip
    assert (await reconciled(make_ctx(config))).outputs == {"record_id": "r-9"}
    server.route("HEAD", "/records", Reply(410))
    assert await reconciled(make_ctx(config)) is None


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (403, False), (200, False)])
async def test_any_other_answer_fails_without_calling(
    server: FakeServer, make_ctx: Any, status: int, retryable: bool
) -> None:
    server.route("GET", "/records", Reply(status, json={"error": "nope"}))
    ctx = make_ctx(with_lookup(server, foundStatus=[201], notFoundStatus=[404, 410]))
    with pytest.raises(ActionFailed) as caught:
        await reconciled(ctx)
    assert caught.value.message == (
        f"reconcile: GET {server.url}/records?task={TASK_ID} answered {status} "
        '(expected 201, 404, 410): {"error": "nope"}; whether an earlier attempt took effect '
        "is unknown, so the call was not made: check, then retry or abort"
    )
    assert caught.value.retryable is retryable
    assert [call.method for call in server.calls] == ["GET"]
    assert ctx.lines[-1].level == "error"


async def test_a_lookup_that_gets_no_answer_fails_the_task(make_ctx: Any) -> None:
    with FakeServer() as gone:
        config = with_lookup(gone)
    with pytest.raises(ActionFailed, match="ConnectError") as caught:
        await reconciled(make_ctx(config))
    assert caught.value.retryable


async def test_a_found_effect_without_its_outputs_fails(server: FakeServer, make_ctx: Any) -> None:
    server.route("GET", "/records", Reply(json={"items": []}))
    with pytest.raises(ActionFailed) as caught:
        await reconciled(make_ctx(with_lookup(server)))
    assert caught.value.message.startswith("output 'record_id': response.body.items[0].id")


async def test_lookup_headers_take_secrets_by_reference_and_mask_them(
    server: FakeServer, make_ctx: Any
) -> None:
    def echo(call: RecordedCall) -> Reply:
        seen = f"{call.headers['authorization']} {call.headers['x-api-key']}"
        return Reply(500, json={"message": f"rejected {seen}"})

    server.route("GET", "/records", echo)
    lookup = {
        "url": server.url + "/records?key=" + API_KEY,
        "headers": {
            "Authorization": "Bearer ${env:LOOM_ACTION_DNS_TOKEN}",
            "X-Api-Key": "${secret:creds.api_key}",
        },
    }
    ctx = make_ctx(
        with_lookup(server, **lookup),
        env={"LOOM_ACTION_DNS_TOKEN": TOKEN},
        secrets={"creds.api_key": API_KEY},
    )
    with pytest.raises(ActionFailed) as caught:
        await reconciled(ctx)
    [call] = server.calls
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["x-api-key"] == API_KEY
    shown = log_text(ctx) + caught.value.message
    assert TOKEN not in shown and API_KEY not in shown
    assert f"rejected Bearer {MASK} {MASK}" in caught.value.message


async def test_a_literal_credential_in_the_lookup_is_refused(
    server: FakeServer, make_ctx: Any
) -> None:
    ctx = make_ctx(with_lookup(server, headers={"Authorization": "Bearer abc123"}))
    with pytest.raises(ActionFailed, match="carries a credential written in the catalog"):
        await reconciled(ctx)
    assert server.connections == 0


# --- failures ----------------------------------------------------------------------


async def test_an_unexpected_status_fails_with_a_masked_excerpt(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route(
        "POST",
        "/x",
        Reply(409, json={"error": "already exists", "token": "server-side-token", "n": "x" * 500}),
    )
    ctx = make_ctx({"url": server.url + "/x", "expectStatus": [201, 200]})
    failed = await failure(ctx)
    assert failed.message.startswith(
        f'POST {server.url}/x answered 409 (expected 200, 201): {{"error": "already exists", '
        f'"token": "{MASK}", "n": "xxx'
    )
    assert len(failed.message) < 400 and failed.message.endswith("…")
    assert "server-side-token" not in log_text(ctx)
    assert failed.retryable is False
    assert ctx.lines[-1].level == "error"


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (404, False)]
)
async def test_which_statuses_are_worth_a_retry(
    server: FakeServer, make_ctx: Any, status: int, retryable: bool
) -> None:
    server.route("POST", "/x", Reply(status))
    failed = await failure(make_ctx({"url": server.url + "/x"}))
    assert failed.retryable is retryable
    assert f"answered {status}" in failed.message and "(empty body)" in failed.message


async def test_a_missing_output_path_is_named(server: FakeServer, make_ctx: Any) -> None:
    server.route("POST", "/x", Reply(201, json={"items": [], "id": 1}))
    ctx = make_ctx(
        {
            "url": server.url + "/x",
            "outputMap": {"id": "response.body.id", "name": "response.body.items[0].name"},
        }
    )
    failed = await failure(ctx)
    assert failed.message == (
        "output 'name': response.body.items[0].name: response.body.items has 0 items, no [0]"
    )
    assert not failed.retryable
    for path, message in [
        ("response.body.uid", "response.body has no key 'uid'"),
        ("response.body.id.x", "response.body.id is a number, not an object"),
        ("response.headers.x-missing", "the response has no x-missing header"),
    ]:
        ctx = make_ctx({"url": server.url + "/x", "outputMap": {"k": path}})
        assert (await failure(ctx)).message == f"output 'k': {path}: {message}"


async def test_no_answer_in_time_fails_retryably(server: FakeServer, make_ctx: Any) -> None:
    server.route("POST", "/slow", Reply(201, delay=3))
    ctx = make_ctx({"url": server.url + "/slow", "timeoutSeconds": 0.3})
    failed = await failure(ctx)
    assert failed.message == f"POST {server.url}/slow: no answer within 0.3 s"
    assert failed.retryable


async def test_the_task_deadline_cuts_the_timeout(
    server: FakeServer, make_ctx: Any, clock: FakeClock
) -> None:
    server.route("POST", "/slow", Reply(201, delay=3))
    ctx = make_ctx({"url": server.url + "/slow"}, deadline=clock.now + 0.55, clock=clock)
    assert (await failure(ctx)).message == f"POST {server.url}/slow: no answer within 0.3 s"
    late = make_ctx({"url": server.url + "/slow"}, deadline=clock.now - 1, clock=clock)
    assert (await failure(late)).message == "the task ran out of time"
    assert len(server.calls) == 1


async def test_an_oversized_answer_is_refused(
    server: FakeServer, make_ctx: Any, settings: Settings
) -> None:
    server.route("GET", "/big", Reply(body=b"x" * (settings.http.max_response_bytes + 1)))
    failed = await failure(make_ctx({"method": "GET", "url": server.url + "/big"}))
    assert "response larger than 10485760 bytes" in failed.message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("/v1/things", "not an absolute http:// or https:// URL"),
        ("ftp://files.example.com/x", "not an absolute http:// or https:// URL"),
        ("http:///x", "not an absolute http:// or https:// URL"),
        ("http://[::1/x", "not a valid URL (Invalid port: ':1')"),
    ],
)
async def test_a_url_that_cannot_be_called_is_refused(
    make_ctx: Any, url: str, problem: str
) -> None:
    failed = await failure(make_ctx({"url": url}))
    assert failed.message.startswith(f"POST {url}: {problem}")
    assert not failed.retryable


async def test_a_refused_connection_fails_retryably(make_ctx: Any) -> None:
    with FakeServer() as gone:
        url = gone.url + "/x"
    failed = await failure(make_ctx({"url": url}))
    assert failed.message.startswith(f"POST {url}: ConnectError") and failed.retryable


# --- secrets in headers ------------------------------------------------------------


async def test_env_and_secret_references_are_resolved_and_masked(
    server: FakeServer, make_ctx: Any
) -> None:
    def echo_credentials(call: RecordedCall) -> Reply:
        seen = f"{call.headers['authorization']} / {call.headers['x-api-key']}"
        return Reply(401, json={"message": f"rejected {seen}"})

    server.route("POST", "/secure", echo_credentials)
    ctx = make_ctx(
        {
            "url": server.url + "/secure?key=" + API_KEY,
            "headers": {
                "Authorization": "Bearer ${env:LOOM_ACTION_DNS_TOKEN}",
                "X-Api-Key": "${ secret:creds.api_key }".replace(" ", ""),
                "X-Team": "data",
            },
        },
        env={"LOOM_ACTION_DNS_TOKEN": TOKEN},
        secrets={"creds.api_key": API_KEY},
    )
    failed = await failure(ctx)
    [call] = server.calls
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["x-api-key"] == API_KEY
    assert call.headers["x-team"] == "data"
    shown = log_text(ctx) + failed.message
    assert TOKEN not in shown and API_KEY not in shown
    assert f"rejected Bearer {MASK} / {MASK}" in failed.message
    assert ctx.lines[0].message == f"POST {server.url}/secure?key={MASK}"


async def test_a_secret_form_field_may_fill_a_credential_header(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("POST", "/hooks", Reply(201))
    ctx = make_ctx(
        {"url": server.url + "/hooks", "headers": {"X-Webhook-Secret": "whsec-123456"}},
        secrets={"webhook_secret": "whsec-123456"},
    )
    await run(ctx)
    assert server.calls[0].headers["x-webhook-secret"] == "whsec-123456"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer abc123"},
        {"X-Api-Key": "abc123"},
        {"x-auth-token": "abc123"},
        {"Cookie": "session=abc123"},
        {"X-Webhook-Secret": "literal"},
    ],
)
async def test_literal_credentials_in_the_catalog_are_refused(
    server: FakeServer, make_ctx: Any, headers: dict[str, str]
) -> None:
    failed = await failure(make_ctx({"url": server.url + "/x", "headers": headers}))
    [name] = headers
    assert failed.message == (
        f"header {name!r} carries a credential written in the catalog; "
        "use ${env:NAME} or ${secret:path} (or a secret form field) instead"
    )
    assert "abc123" not in failed.message
    assert server.connections == 0


@pytest.mark.parametrize(
    ("value", "env", "message"),
    [
        (
            "${env:LOOM_SECRET_KEY}",
            {"LOOM_SECRET_KEY": "s"},
            "header 'Authorization': ${env:LOOM_SECRET_KEY} refused; only variables starting "
            "with LOOM_ACTION_ may be used (http.header_env_prefix)",
        ),
        (
            "${env:LOOM_ACTION_MISSING}",
            {},
            "header 'Authorization': environment variable LOOM_ACTION_MISSING is not set",
        ),
        (
            "${secret:nope}",
            {},
            "header 'Authorization': secret 'nope' is not available to this task",
        ),
    ],
)
async def test_bad_references_are_refused(
    server: FakeServer, make_ctx: Any, value: str, env: dict[str, str], message: str
) -> None:
    ctx = make_ctx({"url": server.url + "/x", "headers": {"Authorization": value}}, env=env)
    assert (await failure(ctx)).message == message
    assert server.connections == 0


async def test_a_header_with_a_line_break_is_refused(server: FakeServer, make_ctx: Any) -> None:
    ctx = make_ctx(
        {"url": server.url + "/x", "headers": {"X-Name": "a\r\nX-Injected: 1"}},
    )
    assert (await failure(ctx)).message == "header 'X-Name': the value contains a line break"
    assert server.connections == 0


async def test_referenced_headers_do_not_follow_a_redirect_off_origin(
    server: FakeServer, make_ctx: Any
) -> None:
    with FakeServer() as other:
        other.route("POST", "/in", Reply(201))
        server.route("POST", "/out", Reply(307, headers={"Location": other.url + "/in"}))
        ctx = make_ctx(
            {
                "url": server.url + "/out",
                "headers": {"X-Tenant": "${secret:tenant}", "X-Plain": "p"},
            },
            secrets={"tenant": "tenant-secret-1"},
        )
        await run(ctx)
    assert server.calls[0].headers["x-tenant"] == "tenant-secret-1"
    assert "x-tenant" not in other.calls[0].headers
    assert other.calls[0].headers["x-plain"] == "p"


# --- allow-list and circuit breaker --------------------------------------------------


async def test_disallowed_hosts_are_refused_without_a_connection(
    server: FakeServer, make_ctx: Any, settings: Settings
) -> None:
    by_name = await failure(make_ctx({"url": f"http://localhost:{server.port}/x"}))
    assert by_name.message == (
        f"POST http://localhost:{server.port}/x: refused localhost: not in allowed_hosts "
        "(LOOM_ALLOWED_HOSTS)"
    )
    assert not by_name.retryable
    names_only = Settings(env="test", allowed_hosts=["*.example.com"])
    clients = HttpClients.from_settings(names_only)
    try:
        by_ip = await failure(make_ctx({"url": server.url + "/x"}, http=clients))
    finally:
        await clients.aclose()
    assert "private/loopback/link-local IP address not listed" in by_ip.message
    metadata = await failure(make_ctx({"url": "http://169.254.169.254/latest/meta-data/"}))
    assert "refused 169.254.169.254" in metadata.message
    assert server.connections == 0


async def test_a_redirect_to_a_disallowed_host_is_refused(
    server: FakeServer, make_ctx: Any
) -> None:
    server.route("POST", "/x", Reply(307, headers={"Location": "http://10.0.0.8/admin"}))
    failed = await failure(make_ctx({"url": server.url + "/x"}))
    assert failed.message.endswith(
        "refused 10.0.0.8: a private/loopback/link-local IP address not listed in allowed_hosts"
    )
    assert [call.path for call in server.calls] == ["/x"]


async def test_the_circuit_opens_after_failures_and_half_opens_after_cooldown(
    server: FakeServer, make_ctx: Any, clock: FakeClock
) -> None:
    server.route("POST", "/x", Reply(502))
    for _ in range(2):
        assert "answered 502" in (await failure(make_ctx({"url": server.url + "/x"}))).message
    refused = await failure(make_ctx({"url": server.url + "/x"}))
    assert refused.message == (
        f"POST {server.url}/x: circuit open for rest-api 127.0.0.1:{server.port}: "
        "recent calls failed; next trial in 30 s"
    )
    assert refused.retryable and len(server.calls) == 2
    clock.now += 30
    server.route("POST", "/x", Reply(201))
    await run(make_ctx({"url": server.url + "/x"}))
    await run(make_ctx({"url": server.url + "/x"}))
    assert len(server.calls) == 4


# --- registration and config ---------------------------------------------------------


def test_rest_api_is_registered_with_its_executor() -> None:
    action_type = action_types()["rest-api"]
    assert isinstance(action_type.executor, RestApi)
    assert action_type.executor.config_model is action_type.config_model is RestApiConfig


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"json": {"a": 1}, "form": {"a": "1"}}, "give a json or a form body, not both"),
        ({"outputMap": {"id": "body.id"}}, "id: 'body.id' must start with response.status"),
        ({"outputMap": {"id": "response.body.items[x]"}}, "is not a key with optional [index]es"),
        ({"outputMap": {"s": "response.status.code"}}, "response.status has nothing under it"),
        ({"outputMap": {"h": "response.headers"}}, "name one header"),
        ({"reconcile": {}}, "Field required"),
        ({"reconcile": {"url": "u", "outputMap": {"id": "body.id"}}}, "id: 'body.id' must start"),
        ({"reconcile": {"url": "u", "foundStatus": []}}, "at least 1 item"),
        ({"reconcile": {"url": "u", "method": "DELETE"}}, "'GET', 'HEAD' or 'POST'"),
        (
            {"reconcile": {"url": "u", "foundStatus": [200, 404]}},
            "status 404 cannot mean both found and not found",
        ),
        (
            {"outputMap": {"id": "response.body.id"}, "reconcile": {"url": "u"}},
            "outputMap must map the call's output keys: missing id",
        ),
        (
            {"reconcile": {"url": "u", "outputMap": {"x": "response.status"}}},
            "outputMap must map the call's output keys: x not in the call's outputMap",
        ),
    ],
)
def test_configs_the_catalog_refuses(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RestApiConfig.model_validate({"url": "https://api.example.com/x", **config})


def test_the_catalog_checks_the_lookup_like_the_call() -> None:
    lookup = """\
        reconcile:
          url: "https://api.example.com/records/{{ .system.taskId }}?by={{ .system.user.email }}"
          headers: {X-Name: "{{ .current.nmae }}"}
          foundStatus: [200, 404]
          outputMap: {record_id: response.body.id}
"""
    document = f"""\
apiVersion: loom/v1
kind: CatalogItem
metadata: {{id: thing, name: Thing, category: misc}}
spec:
  form:
    fields: [{{id: name, type: string}}]
  fulfillment:
    actions:
      - id: call
        type: rest-api
        config:
          url: https://api.example.com/records
          outputMap: {{record_id: response.body.id}}
{indent(dedent(lookup), " " * 10)}"""
    catalog = load_files([("catalog/thing.yaml", document)])
    assert [f"{p.path}: {p.message}" for p in catalog.problems] == [
        "spec.fulfillment.actions[0].config.reconcile: "
        "status 404 cannot mean both found and not found",
        "spec.fulfillment.actions[0].config.reconcile.headers.X-Name: "
        ".current.nmae: no form field 'nmae'",
    ]
