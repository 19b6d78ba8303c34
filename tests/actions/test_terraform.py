"""terraform-run against the Terraform Cloud fake: execute queues one run named after the
task and waits; check follows every run status (done with the state outputs, failed
with the run URL, waiting for confirmation); variables go as HCL run variables, or as
sensitive workspace variables when they hold a secret; sensitive outputs are masked in
logs; remote 4xx/5xx, timeouts and the circuit breaker seen through the action; and a
crash after the run was queued is reconciled without a second run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.base import ActionContext, ActionFailed, ActionResult, run_action, run_reconcile
from loom.actions.builtin import TerraformRunConfig
from loom.actions.registry import action_types
from loom.actions.terraform import TerraformRun
from loom.actions.waits import CheckResult
from loom.audit.masking import MASK
from loom.demo.fakes.terraform import TOKEN, FakeTerraform
from loom.integrations import terraform as terraform_module
from loom.platform.http import HttpClients
from loom.settings import Settings

TASK_ID = "00000000-0000-0000-0000-0000000000f1"
SECRET = "redis-auth-5Kq9"


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
        fake.add_workspace("prod-orders-db")
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tfc: FakeTerraform) -> Settings:
    return Settings(
        env="test",
        http={"timeout_seconds": 0.5, "breaker_failure_threshold": 3},
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
def make_ctx(http: HttpClients, settings: Settings) -> Any:
    def make(config: dict[str, Any], **extra: Any) -> ActionContext[TerraformRunConfig]:
        values: dict[str, Any] = {
            "request_id": uuid.uuid4(),
            "task_id": uuid.UUID(TASK_ID),
            "attempt": 1,
            "config": TerraformRunConfig.model_validate(config),
            "http": http,
            "settings": settings,
            "env": {},
            **extra,
        }
        return ActionContext(**values)

    return make


BASE = {"workspace": "prod-orders-db"}


async def start(ctx: ActionContext[TerraformRunConfig]) -> ActionResult:
    result = await run_action(TerraformRun(), ctx)
    assert result.wait is not None
    return result


async def check(make_ctx: Any, result: ActionResult, config: dict[str, Any] | None = None) -> Any:
    assert result.wait is not None
    ctx = make_ctx(config or BASE)
    return await TerraformRun().check(ctx, result.wait.state), ctx


def log_text(lines: Any) -> str:
    return "\n".join(line.message for line in lines)


# --- execute -----------------------------------------------------------------------------


async def test_execute_queues_one_run_named_after_the_task_and_waits(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    ctx = make_ctx(
        {
            **BASE,
            "variables": {"name": "orders", "storage_gb": 50, "multi_az": True},
            "message": "Postgres for orders",
        }
    )
    result = await start(ctx)
    [run] = tfc.runs_of("prod-orders-db")
    url = f"{tfc.url}/app/acme/workspaces/prod-orders-db/runs/{run.id}"
    assert run.message == f"Loom task {TASK_ID}: Postgres for orders"
    assert (run.auto_apply, run.is_destroy, run.plan_only) == (True, False, False)
    assert tfc.run_variables(run.id) == {"name": "orders", "storage_gb": 50, "multi_az": True}
    assert result.outputs == {"run_id": run.id, "run_url": url}
    assert result.external_refs == {"url": url, "run": run.id}
    assert result.wait is not None
    assert result.wait.kind == "terraform-run"
    assert result.wait.reason == "Terraform run pending"
    assert result.wait.timeout_seconds == 1440 * 60
    assert result.wait.state == {
        "instance": "main",
        "organization": "acme",
        "workspace": "prod-orders-db",
        "workspace_id": tfc.workspace("prod-orders-db").id,
        "run_id": run.id,
        "run_url": url,
        "operation": "apply",
        "auto_apply": True,
        "outputs": "all",
    }
    assert f"queued Terraform run {run.id} in acme/prod-orders-db" in log_text(result.logs)


async def test_a_run_without_a_message_carries_just_the_task(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    await start(make_ctx(BASE))
    assert [run.message for run in tfc.runs.values()] == [f"Loom task {TASK_ID}"]


@pytest.mark.parametrize(
    ("operation", "auto_apply", "expected"),
    [
        ("apply", None, (True, False, False)),
        ("apply", False, (False, False, False)),
        ("destroy", None, (False, True, False)),
        ("destroy", True, (True, True, False)),
        ("plan", None, (False, False, True)),
    ],
)
async def test_operations(
    tfc: FakeTerraform,
    make_ctx: Any,
    operation: str,
    auto_apply: bool | None,
    expected: tuple[bool, bool, bool],
) -> None:
    config = {**BASE, "operation": operation, "autoApply": auto_apply}
    result = await start(make_ctx(config))
    [run] = tfc.runs.values()
    assert (run.auto_apply, run.is_destroy, run.plan_only) == expected
    assert result.wait is not None and result.wait.state["auto_apply"] == expected[0]


async def test_the_organization_and_instance_can_be_named(
    tfc: FakeTerraform, http: HttpClients, make_ctx: Any
) -> None:
    tfc.add_workspace("shared", organization="platform")
    result = await start(
        make_ctx({"instance": "main", "organization": "platform", "workspace": "shared"})
    )
    assert result.wait is not None and result.wait.state["organization"] == "platform"
    assert "/app/platform/workspaces/shared/runs/" in result.outputs["run_url"]


async def test_a_variable_holding_a_secret_becomes_a_sensitive_workspace_variable(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    ctx = make_ctx(
        {**BASE, "variables": {"name": "cache", "auth_token": SECRET, "conn": {"pw": SECRET}}},
        secrets={"auth_token": SECRET},
    )
    result = await start(ctx)
    [run] = tfc.runs.values()
    assert tfc.run_variables(run.id) == {"name": "cache"}
    stored = {v["key"]: v for v in tfc.workspace("prod-orders-db").variables.values()}
    assert (stored["auth_token"]["value"], stored["auth_token"]["hcl"]) == (SECRET, False)
    assert (stored["conn"]["value"], stored["conn"]["hcl"]) == (f'{{ "pw" = "{SECRET}" }}', True)
    assert all(var["sensitive"] and var["category"] == "terraform" for var in stored.values())
    assert SECRET not in log_text(result.logs)
    assert "set as sensitive workspace variables: auth_token, conn" in log_text(result.logs)


async def test_a_retry_updates_the_sensitive_variable_instead_of_failing(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    config = {**BASE, "variables": {"auth_token": SECRET}}
    await start(make_ctx(config, secrets={"t": SECRET}))
    await start(make_ctx(config, secrets={"t": SECRET}, attempt=2))
    assert len(tfc.workspace("prod-orders-db").variables) == 1


async def test_a_value_without_an_hcl_form_fails_before_any_run(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    ctx = make_ctx({**BASE, "variables": {"ratio": float("nan")}})
    with pytest.raises(ActionFailed, match="variable 'ratio': nan has no HCL form"):
        await run_action(TerraformRun(), ctx)
    assert not tfc.runs


# --- remote failures -----------------------------------------------------------------------


async def test_an_unknown_workspace_fails_naming_it_and_the_status(make_ctx: Any) -> None:
    ctx = make_ctx({"workspace": "nope"})
    with pytest.raises(ActionFailed) as caught:
        await run_action(TerraformRun(), ctx)
    assert "reading workspace acme/nope" in caught.value.message
    assert caught.value.message.endswith("answered 404: not found")
    assert not caught.value.retryable


async def test_a_5xx_starting_the_run_fails_retryably_without_a_second_post(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    tfc.fail("POST", r"/api/v2/runs", 500)
    with pytest.raises(ActionFailed, match=r"starting a run: POST .* answered 500") as caught:
        await run_action(TerraformRun(), make_ctx(BASE))
    assert caught.value.retryable
    assert [c.method for c in tfc.calls].count("POST") == 1


async def test_a_timeout_fails_retryably(tfc: FakeTerraform, make_ctx: Any) -> None:
    tfc.slow("POST", r"/api/v2/runs", 2.0)
    with pytest.raises(ActionFailed, match=r"no answer within 0.5 s") as caught:
        await run_action(TerraformRun(), make_ctx(BASE))
    assert caught.value.retryable


async def test_the_circuit_opens_then_closes_through_the_action(
    tfc: FakeTerraform, make_ctx: Any, clock: FakeClock, http: HttpClients
) -> None:
    tfc.fail("GET", r"/api/v2/organizations/.*", 503, times=3)
    with pytest.raises(ActionFailed, match="answered 503"):
        await run_action(TerraformRun(), make_ctx(BASE))
    with pytest.raises(ActionFailed, match="circuit open for terraform:main"):
        await run_action(TerraformRun(), make_ctx(BASE))
    assert not tfc.runs
    clock.now += 60
    await start(make_ctx(BASE))
    assert len(tfc.runs) == 1
    assert http.breaker_states() == {f"terraform:main 127.0.0.1:{tfc.server.port}": "closed"}


async def test_no_instance_configured_is_a_clear_failure(http: HttpClients, make_ctx: Any) -> None:
    ctx = make_ctx(BASE, settings=Settings(env="test"))
    with pytest.raises(ActionFailed, match="no Terraform instance is configured"):
        await run_action(TerraformRun(), ctx)


# --- check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", ("waiting", "run pending")),
        ("planning", ("waiting", "run planning")),
        ("applying", ("waiting", "run applying")),
        (
            "policy_soft_failed",
            ("waiting", "run policy_soft_failed: waiting for a policy override"),
        ),
        ("errored", ("failed", "ended errored")),
        ("discarded", ("failed", "ended discarded")),
        ("canceled", ("failed", "ended canceled")),
        ("force_canceled", ("failed", "ended force_canceled")),
        ("applied", ("done", None)),
        ("planned_and_finished", ("done", None)),
    ],
)
async def test_check_for_each_run_status(
    tfc: FakeTerraform, make_ctx: Any, status: str, expected: tuple[str, str | None]
) -> None:
    result = await start(make_ctx(BASE))
    tfc.set_outputs("prod-orders-db", {"endpoint": "db.internal"})
    tfc.advance(result.outputs["run_id"], status)
    answer, _ctx = await check(make_ctx, result)
    assert answer.status == expected[0]
    if answer.status == "waiting":
        assert answer.reason == expected[1]
    elif answer.status == "failed":
        run_id = result.outputs["run_id"]
        assert answer.error == f"Terraform run {run_id} {expected[1]}: {result.outputs['run_url']}"
    else:
        assert answer.outputs == {"endpoint": "db.internal"}
        assert answer.external_refs == {
            "url": result.outputs["run_url"],
            "run": result.outputs["run_id"],
        }


async def test_a_planned_run_without_auto_apply_waits_for_confirmation(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    config = {**BASE, "autoApply": False}
    result = await start(make_ctx(config))
    run_id = result.outputs["run_id"]
    assert tfc.finish(run_id) == "planned"
    answer, _ctx = await check(make_ctx, result, config)
    assert answer == CheckResult.waiting("waiting for apply confirmation")
    assert tfc.runs[run_id].status == "planned"  # nobody confirmed it for the person
    assert not [c for c in tfc.calls if c.path.endswith("/actions/apply")]


async def test_a_planned_run_with_auto_apply_is_confirmed(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    result = await start(make_ctx(BASE))
    run_id = result.outputs["run_id"]
    tfc.runs[run_id].auto_apply = False  # a TFE that ignored the run's auto-apply
    tfc.finish(run_id)
    answer, ctx = await check(make_ctx, result)
    assert answer == CheckResult.waiting("apply confirmed")
    assert tfc.runs[run_id].status == "confirmed"
    assert tfc.calls[-1].json() == {"comment": f"Loom task {TASK_ID}"}
    assert f"confirmed the apply of run {run_id}" in log_text(ctx.lines)
    tfc.finish(run_id)
    tfc.set_outputs("prod-orders-db", {})
    answer, _ctx = await check(make_ctx, result)
    assert answer == CheckResult.done({}, {"url": result.outputs["run_url"], "run": run_id})


async def test_the_whole_happy_path_through_check(tfc: FakeTerraform, make_ctx: Any) -> None:
    result = await start(make_ctx(BASE))
    run_id = result.outputs["run_id"]
    seen = []
    while tfc.runs[run_id].status != "applied":
        tfc.advance(run_id)
        if tfc.runs[run_id].status == "applied":
            tfc.set_outputs("prod-orders-db", {"endpoint": "db.internal", "port": 5432})
        answer, _ctx = await check(make_ctx, result)
        seen.append((tfc.runs[run_id].status, answer.status))
    assert seen == [
        ("planning", "waiting"),
        ("planned", "waiting"),
        ("applying", "waiting"),
        ("applied", "done"),
    ]
    assert answer.outputs == {"endpoint": "db.internal", "port": 5432}


async def test_a_plan_completes_with_whether_it_has_changes(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    config = {**BASE, "operation": "plan"}
    result = await start(make_ctx(config))
    assert tfc.finish(result.outputs["run_id"]) == "planned_and_finished"
    answer, _ctx = await check(make_ctx, result, config)
    assert answer.status == "done" and answer.outputs == {"has_changes": True}
    assert not [c for c in tfc.calls if "state-version-outputs" in c.path]


async def test_named_outputs_only_and_a_missing_one_fails(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    config = {**BASE, "outputs": ["endpoint"]}
    result = await start(make_ctx(config))
    tfc.set_outputs("prod-orders-db", {"endpoint": "db.internal", "extra": 1})
    tfc.advance(result.outputs["run_id"], "applied")
    answer, _ctx = await check(make_ctx, result, config)
    assert answer.outputs == {"endpoint": "db.internal"}

    config = {**BASE, "outputs": ["endpoint", "port"]}
    result = await start(make_ctx(config))
    tfc.advance(result.outputs["run_id"], "applied")
    answer, _ctx = await check(make_ctx, result, config)
    assert answer.status == "failed"
    assert answer.error == (
        "output port not in the state of workspace acme/prod-orders-db "
        f"(it has: endpoint, extra): {result.outputs['run_url']}"
    )


async def test_outputs_still_processed_keep_the_task_waiting(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    result = await start(make_ctx(BASE))
    tfc.set_outputs("prod-orders-db", {"endpoint": "e"})
    tfc.workspace("prod-orders-db").outputs_processing = True
    tfc.advance(result.outputs["run_id"], "applied")
    answer, _ctx = await check(make_ctx, result)
    assert answer == CheckResult.waiting("applied: waiting for the state outputs")
    tfc.workspace("prod-orders-db").outputs_processing = False
    answer, _ctx = await check(make_ctx, result)
    assert answer.status == "done"


async def test_an_unreadable_state_after_the_apply_fails_the_task(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    result = await start(make_ctx(BASE))  # the workspace has no state at all
    tfc.advance(result.outputs["run_id"], "applied")
    answer, _ctx = await check(make_ctx, result)
    assert answer.status == "failed"
    assert answer.error is not None and "reading the state outputs" in answer.error
    assert answer.error.endswith("answered 404: not found")


async def test_a_flaky_remote_during_check_is_raised_not_a_failure(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    result = await start(make_ctx(BASE))
    tfc.fail("GET", r"/api/v2/runs/.*", 502, times=3)
    with pytest.raises(ActionFailed) as caught:  # the waits framework logs it and waits on
        await check(make_ctx, result)
    assert caught.value.retryable


async def test_sensitive_outputs_are_read_one_by_one_and_masked_in_logs(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    result = await start(make_ctx(BASE))
    tfc.set_outputs(
        "prod-orders-db",
        {
            "endpoint": "db.internal",
            "password": "pg-pass-77x",
            "conn": {"dsn": "pg://u:pg-pass-77x@h"},
        },
        sensitive=["password", "conn"],
    )
    tfc.advance(result.outputs["run_id"], "applied")
    answer, ctx = await check(make_ctx, result)
    assert answer.outputs == {
        "conn": {"dsn": "pg://u:pg-pass-77x@h"},
        "endpoint": "db.internal",
        "password": "pg-pass-77x",
    }
    reads = [c.path for c in tfc.calls if c.path.startswith("/api/v2/state-version-outputs/")]
    assert len(reads) == 2  # one per sensitive output; the plain one came with the list
    assert "outputs: conn (sensitive), endpoint, password (sensitive)" in log_text(ctx.lines)
    assert "pg-pass-77x" not in log_text(ctx.lines)
    ctx.log("echo pg-pass-77x and pg://u:pg-pass-77x@h")
    assert ctx.lines[-1].message == f"echo {MASK} and {MASK}"


# --- crash, then reconcile -----------------------------------------------------------------


async def test_a_crash_after_the_run_was_queued_is_reconciled_without_a_second_run(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    # The run is created, but its answer never reaches the worker (it died, or timed out).
    tfc.slow("POST", r"/api/v2/runs", 2.0)
    with pytest.raises(ActionFailed, match="no answer within"):
        await run_action(TerraformRun(), make_ctx(BASE))
    [queued] = tfc.runs.values()

    again = make_ctx(BASE, attempt=2)
    found = await run_reconcile(TerraformRun(), again)
    assert found is not None and found.wait is not None
    assert found.outputs["run_id"] == queued.id
    assert found.wait.state["run_id"] == queued.id
    assert f"found run {queued.id} of an earlier attempt (pending)" in log_text(found.logs)
    [search] = [c for c in tfc.calls if c.path.endswith("/runs") and c.method == "GET"]
    assert search.query["search[basic]"] == [TASK_ID]
    assert len(tfc.runs) == 1
    assert [c.method for c in tfc.calls].count("POST") == 1


async def test_reconcile_without_an_earlier_run_lets_execute_start_one(
    tfc: FakeTerraform, make_ctx: Any
) -> None:
    tfc.fail("POST", r"/api/v2/runs", 500)  # the first attempt never queued anything
    with pytest.raises(ActionFailed):
        await run_action(TerraformRun(), make_ctx(BASE))
    tfc.add_workspace("other")
    other = await start(make_ctx({"workspace": "other"}))  # same task id, other workspace
    again = make_ctx(BASE, attempt=2)
    assert await run_reconcile(TerraformRun(), again) is None
    result = await start(again)
    assert result.outputs["run_id"] != other.outputs["run_id"]
    assert len(tfc.runs_of("prod-orders-db")) == 1


async def test_reconcile_ignores_runs_of_other_tasks(tfc: FakeTerraform, make_ctx: Any) -> None:
    other_task = uuid.uuid4()
    await start(make_ctx(BASE, task_id=other_task))
    assert await run_reconcile(TerraformRun(), make_ctx(BASE, attempt=2)) is None


# --- config --------------------------------------------------------------------------------


def test_terraform_run_is_registered_with_its_executor() -> None:
    registered = action_types()["terraform-run"]
    assert registered.config_model is TerraformRunConfig
    assert isinstance(registered.executor, TerraformRun)
    assert "terraform" not in action_types()


def test_config_defaults() -> None:
    config = TerraformRunConfig.model_validate({"workspace": "{{ .current.env }}-db"})
    assert (config.operation, config.auto_apply, config.outputs, config.timeout_minutes) == (
        "apply",
        None,
        "all",
        1440,
    )
    assert (config.instance, config.organization, config.variables, config.message) == (
        None,
        None,
        {},
        "",
    )


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"variables": {"bad name": 1}}, "'bad name' is not a Terraform variable name"),
        ({"variables": {"1st": 1}}, "'1st' is not a Terraform variable name"),
        ({"outputs": ["ok", "not ok"]}, "'not ok' is not a Terraform output name"),
        ({"operation": "plan", "autoApply": True}, "autoApply needs operation apply or destroy"),
        ({"operation": "import"}, "Input should be 'apply', 'plan' or 'destroy'"),
        ({"timeoutMinutes": 0}, "greater than or equal to 1"),
        ({"workingDir": "stacks/x"}, "Extra inputs are not permitted"),
        ({"workspace": ""}, "at least 1 character"),
    ],
)
def test_bad_configs_are_refused(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        TerraformRunConfig.model_validate({**BASE, **config})
