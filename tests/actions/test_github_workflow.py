"""github-workflow against the fake GitHub: dispatch with templated inputs, the run
found (from GitHub's run details, by the task id in its name, or as the newest since the
dispatch), check() following it from queued to its conclusion, outputs read from an
artifact, remote 4xx/5xx, and a crashed attempt reconciled without a second run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.base import ActionContext, ActionFailed, run_action, run_reconcile
from loom.actions.builtin import GithubWorkflowConfig
from loom.actions.github_workflow import TASK_INPUT, WAIT_KIND, GithubWorkflow
from loom.actions.registry import action_types
from loom.actions.waits import CheckResult
from loom.demo.fakes.github import FakeGithub
from loom.platform.http import HttpClients
from loom.settings import Settings
from tests.actions.github_support import (
    TASK_ID,
    TOKEN,
    FakeClock,
    github_settings,
    log_text,
    make_context,
)

REPO = "acme/repo-factory"
INPUTS = {"name": {"required": True}, "private": {"type": "boolean"}, "teams": {}}
TITLED = "Create ${{ inputs.name }} (${{ inputs.loom_task_id }})"


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loom.integrations.github.RETRY_DELAYS", (0.0, 0.0))


@pytest.fixture(params=[True, False], ids=["run-details", "no-run-details"])
def github(request: pytest.FixtureRequest) -> Iterator[FakeGithub]:
    with FakeGithub(tokens={TOKEN}, run_details=request.param) as fake:
        fake.add_repo(REPO)
        fake.add_workflow(REPO, "create.yml", name="Create repository", inputs=INPUTS)
        yield fake


@pytest.fixture
def settings(github: FakeGithub) -> Settings:
    return github_settings(github)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[HttpClients]:
    clients = HttpClients.from_settings(settings, clock=FakeClock())
    yield clients
    await clients.aclose()


@pytest.fixture
def make_ctx(http: HttpClients, settings: Settings) -> Any:
    def make(attempt: int = 1, **config: Any) -> ActionContext[GithubWorkflowConfig]:
        values = {
            "repo": REPO,
            "workflow": "create.yml",
            "inputs": {"name": "payments", "private": True, "teams": ["a", "b"]},
            **config,
        }
        return make_context(GithubWorkflowConfig, values, http, settings, attempt=attempt)

    return make


def titled_workflow(github: FakeGithub) -> None:
    github.add_workflow(
        REPO,
        "titled.yml",
        name="Create (titled)",
        inputs={**INPUTS, TASK_INPUT: {"required": False}},
        run_name=TITLED,
    )


def runs(github: FakeGithub) -> list[Any]:
    return sorted(github.repo(REPO).runs.values(), key=lambda run: run.id)


async def check(ctx: ActionContext[GithubWorkflowConfig], state: Any) -> CheckResult:
    return await GithubWorkflow().check(ctx, state)


# --- dispatch and the run it started ---------------------------------------------------


async def test_a_dispatch_starts_one_run_with_the_inputs_as_text(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx()
    result = await run_action(GithubWorkflow(), ctx)
    [run] = runs(github)
    assert run.inputs == {"name": "payments", "private": "true", "teams": '["a", "b"]'}
    assert run.head_branch == "main"
    url = f"{github.web_url}/{REPO}/actions/runs/{run.id}"
    assert result.outputs == {"runId": run.id, "runUrl": url}
    assert result.external_refs == {"url": url}
    wait = result.wait
    assert wait is not None and wait.kind == WAIT_KIND
    assert wait.state["runId"] == run.id and wait.timeout_seconds == 360 * 60
    dispatches = github.api_calls("POST", rf"/repos/{REPO}/actions/workflows/\d+/dispatches")
    if github.run_details:
        assert [call.json().get("return_run_details") for call in dispatches] == [True]
    else:  # asked once with the key, refused, asked again without it
        assert [call.json().get("return_run_details") for call in dispatches] == [True, None]


async def test_check_follows_the_run_from_queued_to_success(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx()
    result = await run_action(GithubWorkflow(), ctx)
    assert result.wait is not None
    state = result.wait.state
    run_id = state["runId"]
    queued = await check(ctx, state)
    assert queued.status == "waiting" and queued.reason is not None
    assert queued.reason.endswith("is queued")
    github.advance_run(run_id, "in_progress")
    running = await check(ctx, queued.state)
    assert running.status == "waiting" and (running.reason or "").endswith("is in_progress")
    github.advance_run(run_id, "completed", "success")
    done = await check(ctx, running.state)
    assert done.status == "done"
    url = f"{github.web_url}/{REPO}/actions/runs/{run_id}"
    assert done.outputs == {"runId": run_id, "runUrl": url, "conclusion": "success"}


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out"])
async def test_any_other_conclusion_fails_with_the_run_url(
    github: FakeGithub, make_ctx: Any, conclusion: str
) -> None:
    ctx = make_ctx()
    result = await run_action(GithubWorkflow(), ctx)
    assert result.wait is not None
    github.advance_run(result.wait.state["runId"], "completed", conclusion)
    failed = await check(ctx, result.wait.state)
    assert failed.status == "failed"
    url = f"{github.web_url}/{REPO}/actions/runs/{result.wait.state['runId']}"
    assert failed.error == f"workflow run {url} concluded {conclusion}"


async def test_a_run_not_listed_yet_is_looked_for_by_the_check(
    github: FakeGithub, make_ctx: Any
) -> None:
    github.run_details = False  # GitHub does not name the run in its answer
    github.hide_new_runs = True
    ctx = make_ctx()
    result = await run_action(GithubWorkflow(), ctx)
    assert result.outputs == {} and result.wait is not None
    assert "runId" not in result.wait.state
    missing = await check(ctx, result.wait.state)
    assert (missing.status, missing.reason) == (
        "waiting",
        "waiting for the dispatched run to appear",
    )
    github.show_runs()
    found = await check(ctx, result.wait.state)
    [run] = runs(github)
    assert found.status == "waiting" and found.state is not None
    assert found.state["runId"] == run.id


async def test_the_task_id_input_names_the_run_among_others(
    github: FakeGithub, make_ctx: Any
) -> None:
    titled_workflow(github)
    github.hide_new_runs = True  # ours is not listed yet when someone else's is
    ctx = make_ctx(workflow="titled.yml")
    result = await run_action(GithubWorkflow(), ctx)
    ours = runs(github)[-1]
    assert ours.inputs[TASK_INPUT] == str(TASK_ID)
    assert ours.display_title == f"Create payments ({TASK_ID})"
    github.show_runs()
    github.repo(REPO).new_run(ours.workflow, "main", "Create other (another-task)", {})
    assert result.wait is not None
    state = dict(result.wait.state)
    state.pop("runId", None)  # as if GitHub had not named it
    found = await check(ctx, state)
    assert found.state is not None and found.state["runId"] == ours.id


async def test_without_waiting_the_task_completes_once_dispatched(
    github: FakeGithub, make_ctx: Any
) -> None:
    result = await run_action(GithubWorkflow(), make_ctx(wait=False))
    [run] = runs(github)
    assert result.wait is None and result.outputs["runId"] == run.id


# --- outputs from an artifact -------------------------------------------------------------


async def finished(github: FakeGithub, ctx: Any) -> tuple[int, dict[str, Any]]:
    result = await run_action(GithubWorkflow(), ctx)
    assert result.wait is not None
    github.advance_run(result.wait.state["runId"], "completed", "success")
    return result.wait.state["runId"], result.wait.state


async def test_named_outputs_are_read_from_the_artifact(github: FakeGithub, make_ctx: Any) -> None:
    ctx = make_ctx(outputsFrom={"artifact": "loom-outputs", "keys": ["repository_url"]})
    run_id, state = await finished(github, ctx)
    github.add_artifact(run_id, "other", {"outputs.json": '{"repository_url": "wrong"}'})
    github.add_artifact(
        run_id,
        "loom-outputs",
        {"outputs.json": '{"repository_url": "https://git.example/acme/payments", "x": 1}'},
    )
    done = await check(ctx, state)
    assert done.status == "done"
    assert done.outputs["repository_url"] == "https://git.example/acme/payments"
    assert "x" not in done.outputs
    [download] = github.downloads.calls
    assert "authorization" not in download.headers  # the storage host gets no token


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (None, "the run has no artifact named 'loom-outputs'"),
        ({"other.json": "{}"}, "has no file 'outputs.json'"),
        ({"outputs.json": "[1]"}, "is not a JSON object"),
        ({"outputs.json": "{nope"}, "is not JSON"),
        ({"outputs.json": '{"other": 1}'}, "lacks repository_url"),
    ],
)
async def test_a_missing_or_malformed_artifact_fails_the_wait(
    github: FakeGithub, make_ctx: Any, files: dict[str, str] | None, problem: str
) -> None:
    ctx = make_ctx(outputsFrom={"artifact": "loom-outputs", "keys": ["repository_url"]})
    run_id, state = await finished(github, ctx)
    if files is not None:
        github.add_artifact(run_id, "loom-outputs", files)
    failed = await check(ctx, state)
    assert failed.status == "failed" and problem in (failed.error or "")


# --- failures ----------------------------------------------------------------------------


async def test_an_unknown_workflow_fails_naming_404(github: FakeGithub, make_ctx: Any) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_action(GithubWorkflow(), make_ctx(workflow="nope.yml"))
    assert "answered 404" in caught.value.message and not caught.value.retryable


async def test_inputs_the_workflow_does_not_declare_fail_with_githubs_reason(
    github: FakeGithub, make_ctx: Any
) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_action(GithubWorkflow(), make_ctx(inputs={"name": "x", "colour": "red"}))
    assert "answered 422" in caught.value.message
    assert 'Unexpected inputs provided: [\\"colour\\"]' in caught.value.message
    assert runs(github) == []


async def test_a_5xx_on_the_dispatch_fails_retryable_and_is_not_repeated(
    github: FakeGithub, make_ctx: Any
) -> None:
    github.fail_next(1, 502, method="POST")
    with pytest.raises(ActionFailed, match="answered 502") as caught:
        await run_action(GithubWorkflow(), make_ctx())
    assert caught.value.retryable
    assert len(github.api_calls("POST", r".*/dispatches")) == 1 and runs(github) == []


async def test_a_silent_github_times_out_and_then_the_breaker_stops_calling(
    github: FakeGithub, make_ctx: Any, settings: Settings
) -> None:
    settings.http.timeout_seconds = 0.2
    github.delay(1.0)
    with pytest.raises(ActionFailed, match=r"no answer within 0.2 s") as caught:
        await run_action(GithubWorkflow(), make_ctx())
    assert caught.value.retryable
    reached = len(github.calls)
    assert reached == 3  # the read of the workflow, retried twice: three failures open it
    with pytest.raises(ActionFailed, match="circuit") as refused:
        await run_action(GithubWorkflow(), make_ctx())
    assert refused.value.retryable and len(github.calls) == reached and runs(github) == []


# --- crash, then reconcile ---------------------------------------------------------------


async def test_reconcile_finds_the_run_named_after_the_task(
    github: FakeGithub, make_ctx: Any
) -> None:
    titled_workflow(github)
    first = await run_action(GithubWorkflow(), make_ctx(workflow="titled.yml"))  # result lost
    retry = make_ctx(attempt=2, workflow="titled.yml")
    result = await run_reconcile(GithubWorkflow(), retry)
    assert result is not None and first.wait is not None and result.wait is not None
    assert len(runs(github)) == 1
    assert result.outputs == first.outputs
    assert result.wait.state["runId"] == first.wait.state["runId"]
    assert "not dispatching again" in log_text(retry)


async def test_reconcile_without_a_named_run_dispatches(github: FakeGithub, make_ctx: Any) -> None:
    titled_workflow(github)
    assert await run_reconcile(GithubWorkflow(), make_ctx(attempt=2, workflow="titled.yml")) is None
    untitled = make_ctx(attempt=2)
    assert await run_reconcile(GithubWorkflow(), untitled) is None
    assert "run-name does not use loom_task_id" in log_text(untitled)


# --- config and registration --------------------------------------------------------------


def test_the_type_is_registered_with_this_executor() -> None:
    assert isinstance(action_types()["github-workflow"].executor, GithubWorkflow)


def test_artifact_outputs_need_the_task_to_wait() -> None:
    with pytest.raises(ValidationError, match="outputsFrom needs wait: true"):
        GithubWorkflowConfig.model_validate(
            {"repo": REPO, "workflow": "w.yml", "wait": False, "outputsFrom": {"artifact": "a"}}
        )
