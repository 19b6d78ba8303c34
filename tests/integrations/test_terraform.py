"""TerraformClient against the Terraform Cloud fake: the JSON:API wire format (bearer
token, content type, documents), errors naming the remote status and errors[].title/
detail, reads retried on 5xx and transport errors but writes never, timeouts, the
circuit breaker opening and closing, paging, and the instance's host allowed without
being listed in allowed_hosts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from loom.actions.base import ActionContext, ActionFailed
from loom.audit.masking import MASK
from loom.demo.fakes.server import RecordedCall, Reply
from loom.demo.fakes.terraform import JSONAPI, TOKEN, FakeTerraform
from loom.integrations import terraform as terraform_module
from loom.integrations.settings import TerraformInstance
from loom.integrations.terraform import OutputsNotReady, TerraformClient
from loom.platform.http import HttpClients
from loom.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terraform_module, "READ_BACKOFF_SECONDS", (0.0, 0.0))


@pytest.fixture
def tfc() -> Iterator[FakeTerraform]:
    with FakeTerraform() as fake:
        fake.add_workspace("db-prod")
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tfc: FakeTerraform) -> Settings:
    return Settings(
        env="test",
        http={
            "timeout_seconds": 0.5,
            "breaker_failure_threshold": 3,
            "breaker_cooldown_seconds": 30,
        },
        integrations={
            "terraform": {"main": {"base_url": tfc.url, "token": TOKEN, "organization": "acme"}}
        },
    )


@pytest.fixture
async def http(settings: Settings, clock: FakeClock) -> AsyncIterator[HttpClients]:
    clients = HttpClients.from_settings(settings, clock=clock)
    yield clients
    await clients.aclose()


@pytest.fixture
def ctx(http: HttpClients, settings: Settings) -> ActionContext[Any]:
    return ActionContext(
        request_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=1,
        config=None,  # type: ignore[arg-type]  # the client never reads it
        http=http,
        settings=settings,
        env={},
    )


@pytest.fixture
def client(ctx: ActionContext[Any]) -> TerraformClient:
    return TerraformClient.for_context(ctx, None)


def log_text(ctx: ActionContext[Any]) -> str:
    return "\n".join(line.message for line in ctx.lines)


# --- wire format -----------------------------------------------------------------------


async def test_reads_a_workspace_with_the_bearer_token(
    tfc: FakeTerraform, client: TerraformClient, ctx: ActionContext[Any]
) -> None:
    workspace = await client.workspace("acme", "db-prod")
    assert workspace.id == tfc.workspace("db-prod").id
    assert (workspace.name, workspace.organization) == ("db-prod", "acme")
    [call] = tfc.calls
    assert call.path == "/api/v2/organizations/acme/workspaces/db-prod"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["accept"] == JSONAPI
    assert TOKEN not in log_text(ctx)


async def test_a_run_is_created_as_a_json_api_document(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    ws_id = tfc.workspace("db-prod").id
    run = await client.create_run(
        ws_id,
        message="Loom task 7",
        auto_apply=True,
        variables={"name": "db-1", "replicas": 2, "tags": {"team": "dba"}},
    )
    assert run.id.startswith("run-") and run.status == "pending"
    call = tfc.calls[-1]
    assert (call.method, call.path) == ("POST", "/api/v2/runs")
    assert call.headers["content-type"] == JSONAPI
    assert call.json() == {
        "data": {
            "type": "runs",
            "attributes": {
                "message": "Loom task 7",
                "is-destroy": False,
                "plan-only": False,
                "auto-apply": True,
                "variables": [
                    {"key": "name", "value": '"db-1"'},
                    {"key": "replicas", "value": "2"},
                    {"key": "tags", "value": '{ "team" = "dba" }'},
                ],
            },
            "relationships": {"workspace": {"data": {"type": "workspaces", "id": ws_id}}},
        }
    }
    assert tfc.run_variables(run.id) == {"name": "db-1", "replicas": 2, "tags": {"team": "dba"}}


async def test_a_plan_only_run_leaves_auto_apply_to_terraform(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    run = await client.create_run(
        tfc.workspace("db-prod").id, message="m", plan_only=True, auto_apply=True
    )
    attributes = tfc.calls[-1].json()["data"]["attributes"]
    assert attributes["plan-only"] is True and "auto-apply" not in attributes
    assert tfc.runs[run.id].plan_only


async def test_a_name_cannot_change_the_path(tfc: FakeTerraform, client: TerraformClient) -> None:
    with pytest.raises(ActionFailed):
        await client.workspace("acme", "../../runs/x?y=1")
    assert tfc.calls[-1].path == "/api/v2/organizations/acme/workspaces/..%2F..%2Fruns%2Fx%3Fy%3D1"


async def test_a_variable_is_created_then_updated_in_place(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    ws_id = tfc.workspace("db-prod").id
    await client.set_variable(ws_id, "pw", "one", hcl_value=False, sensitive=True, existing=[])
    existing = await client.variables(ws_id)
    assert [(v.key, v.category) for v in existing] == [("pw", "terraform")]
    await client.set_variable(
        ws_id, "pw", '"two"', hcl_value=True, sensitive=True, existing=existing
    )
    [stored] = tfc.workspace("db-prod").variables.values()
    assert (stored["value"], stored["hcl"], stored["sensitive"]) == ('"two"', True, True)
    assert [c.method for c in tfc.calls if "/vars" in c.path] == ["POST", "GET", "PATCH"]
    patch = tfc.calls[-1].json()
    assert patch["data"]["id"] == existing[0].id and patch["data"]["type"] == "vars"


async def test_find_run_matches_the_marker_in_the_message(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    ws_id = tfc.workspace("db-prod").id
    ours = await client.create_run(ws_id, message="Loom task abc: create db")
    await client.create_run(ws_id, message="someone else's run")
    found = await client.find_run(ws_id, "Loom task abc")
    assert found is not None and found.id == ours.id
    assert tfc.calls[-1].query["search[basic]"] == ["Loom task abc"]
    found = await client.find_run(ws_id, "Loom task abc", "abc")
    assert found is not None and found.id == ours.id
    assert tfc.calls[-1].query["search[basic]"] == ["abc"]
    assert await client.find_run(ws_id, "Loom task zzz") is None


async def test_apply_confirms_a_planned_run_and_reports_a_409(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    run = await client.create_run(tfc.workspace("db-prod").id, message="m", auto_apply=False)
    assert await client.apply(run.id, "go") is False  # still pending: not confirmable
    tfc.finish(run.id)
    assert tfc.runs[run.id].status == "planned"
    assert await client.apply(run.id, "go") is True
    assert tfc.runs[run.id].status == "confirmed"
    assert tfc.calls[-1].json() == {"comment": "go"}


async def test_outputs_are_paged_and_sensitive_values_read_one_by_one(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    values = {f"out_{i:03}": i for i in range(130)} | {"password": "hunter22"}
    tfc.set_outputs("db-prod", values, sensitive=["password"])
    outputs = await client.outputs(tfc.workspace("db-prod").id)
    assert len(outputs) == 131
    assert [c.query["page[number]"] for c in tfc.calls] == [["1"], ["2"]]
    [secret] = [o for o in outputs if o.name == "password"]
    assert secret.sensitive and secret.value is None
    assert (await client.output(secret.id)).value == "hunter22"


async def test_outputs_still_processed_are_not_ready(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    tfc.set_outputs("db-prod", {"a": 1})
    tfc.workspace("db-prod").outputs_processing = True
    with pytest.raises(OutputsNotReady, match="answered 503"):
        await client.outputs(tfc.workspace("db-prod").id)
    assert len(tfc.calls) == 1  # Retry-After: not retried at once


# --- errors ----------------------------------------------------------------------------


async def test_a_missing_workspace_names_the_status_and_title(client: TerraformClient) -> None:
    with pytest.raises(ActionFailed) as caught:
        await client.workspace("acme", "nope")
    message = caught.value.message
    assert message.startswith("Terraform: reading workspace acme/nope: GET ")
    assert message.endswith("/api/v2/organizations/acme/workspaces/nope answered 404: not found")
    assert not caught.value.retryable


async def test_a_wrong_token_is_a_401_and_the_token_stays_hidden(
    tfc: FakeTerraform, ctx: ActionContext[Any]
) -> None:
    wrong = TerraformInstance(base_url=tfc.url, token="not-the-token-4411", organization="acme")
    client = TerraformClient("other", wrong, ctx)
    with pytest.raises(ActionFailed, match="answered 401: unauthorized") as caught:
        await client.workspace("acme", "db-prod")
    assert "not-the-token-4411" not in caught.value.message + log_text(ctx)


async def test_error_details_are_given_and_secrets_in_them_masked(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    ws_id = tfc.workspace("db-prod").id
    await client.set_variable(ws_id, "pw", "x", hcl_value=False, sensitive=False, existing=[])
    with pytest.raises(ActionFailed) as caught:  # a second create: the key is taken
        await client.set_variable(ws_id, "pw", "y", hcl_value=False, sensitive=False, existing=[])
    assert caught.value.message.endswith(
        "answered 422: invalid attribute: Key has already been taken"
    )
    # An error body echoing the token back is masked.
    tfc.server.route("GET", r"/api/v2/runs/run-echo", _echo_authorization)
    with pytest.raises(ActionFailed) as echoed:
        await client.run("run-echo")
    assert TOKEN not in echoed.value.message
    assert echoed.value.message.endswith(f"answered 400: bad: Bearer {MASK}")


def _echo_authorization(call: RecordedCall) -> Reply:
    detail = call.headers["authorization"]
    return Reply(400, json={"errors": [{"status": "400", "title": "bad", "detail": detail}]})


async def test_a_client_without_a_token_is_refused(ctx: ActionContext[Any]) -> None:
    with pytest.raises(ActionFailed, match="LOOM_INTEGRATIONS__TERRAFORM__BARE__TOKEN"):
        TerraformClient("bare", TerraformInstance(base_url="https://tfe.example"), ctx)


async def test_reads_are_retried_on_5xx(tfc: FakeTerraform, client: TerraformClient) -> None:
    tfc.fail("GET", r"/api/v2/organizations/.*", 502, times=2)
    workspace = await client.workspace("acme", "db-prod")
    assert workspace.id == tfc.workspace("db-prod").id
    assert len(tfc.calls) == 3


async def test_reads_give_up_after_two_retries(tfc: FakeTerraform, client: TerraformClient) -> None:
    tfc.fail("GET", r"/api/v2/organizations/.*", 500, times=5)
    with pytest.raises(ActionFailed, match="answered 500: internal server error") as caught:
        await client.workspace("acme", "db-prod")
    assert caught.value.retryable
    assert len(tfc.calls) == 3


async def test_reads_are_not_retried_on_4xx(tfc: FakeTerraform, client: TerraformClient) -> None:
    with pytest.raises(ActionFailed):
        await client.run("run-missing")
    assert len(tfc.calls) == 1


async def test_writes_are_never_retried(tfc: FakeTerraform, client: TerraformClient) -> None:
    tfc.fail("POST", r"/api/v2/runs", 503)
    with pytest.raises(ActionFailed, match=r"starting a run: POST .* answered 503") as caught:
        await client.create_run(tfc.workspace("db-prod").id, message="m")
    assert caught.value.retryable
    assert [c.method for c in tfc.calls] == ["POST"] and not tfc.runs


async def test_a_slow_read_times_out_and_is_retried(
    tfc: FakeTerraform, client: TerraformClient
) -> None:
    tfc.slow("GET", r"/api/v2/runs/.*", 2.0)
    run = await client.create_run(tfc.workspace("db-prod").id, message="m")
    assert (await client.run(run.id)).id == run.id
    assert [c.method for c in tfc.calls] == ["POST", "GET", "GET"]


async def test_a_slow_write_times_out_once(tfc: FakeTerraform, client: TerraformClient) -> None:
    tfc.slow("POST", r"/api/v2/runs", 2.0)
    with pytest.raises(ActionFailed, match=r"no answer within 0.5 s") as caught:
        await client.create_run(tfc.workspace("db-prod").id, message="m")
    assert caught.value.retryable
    assert len(tfc.calls) == 1


# --- circuit breaker -------------------------------------------------------------------


async def test_the_circuit_opens_after_failures_and_closes_after_a_good_trial(
    tfc: FakeTerraform, client: TerraformClient, http: HttpClients, clock: FakeClock
) -> None:
    breaker = http.breaker("terraform:main", f"127.0.0.1:{tfc.server.port}")
    tfc.fail("GET", r"/api/v2/organizations/.*", 500, times=3)
    with pytest.raises(ActionFailed, match="answered 500"):
        await client.workspace("acme", "db-prod")
    assert breaker.state == "open" and len(tfc.calls) == 3

    connections = tfc.server.connections
    with pytest.raises(ActionFailed, match="circuit open for terraform:main") as caught:
        await client.workspace("acme", "db-prod")
    assert caught.value.retryable
    assert tfc.server.connections == connections  # refused before connecting, not retried

    clock.now += 30
    assert breaker.state == "half-open"
    assert (await client.workspace("acme", "db-prod")).name == "db-prod"
    assert breaker.state == "closed"


async def test_the_instance_host_is_allowed_without_allowed_hosts(
    settings: Settings, client: TerraformClient
) -> None:
    assert settings.allowed_hosts == []
    assert (await client.workspace("acme", "db-prod")).name == "db-prod"


async def test_the_token_is_masked_in_log_lines(
    client: TerraformClient, ctx: ActionContext[Any]
) -> None:
    ctx.log(f"a careless line with {TOKEN} in it")
    assert ctx.lines[-1].message == f"a careless line with {MASK} in it"
