"""github-commit against the fake GitHub: files created and updated (unchanged ones
left alone) with the task trailer, a missing branch created from its base, a pull
request opened (or the open one reused), waiting for the merge, remote 4xx/5xx, and a
crashed attempt reconciled without a second commit or pull request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from loom.actions.base import ActionContext, ActionFailed, ActionResult, run_action, run_reconcile
from loom.actions.builtin import GithubCommitConfig
from loom.actions.github_commit import WAIT_KIND, GithubCommit
from loom.actions.registry import action_types
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

TRAILER = f"Loom-Task: {TASK_ID}"
REPO = "acme/gitops"


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loom.integrations.github.RETRY_DELAYS", (0.0, 0.0))


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    with FakeGithub(tokens={TOKEN}) as fake:
        fake.add_repo(REPO, files={"README.md": "gitops\n", "same.yaml": "kept: true\n"})
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
    def make(attempt: int = 1, **config: Any) -> ActionContext[GithubCommitConfig]:
        values = {
            "repo": REPO,
            "message": "Namespace team-a",
            "files": [{"path": "ns/team-a.yaml", "content": "name: team-a\n"}],
            **config,
        }
        return make_context(GithubCommitConfig, values, http, settings, attempt=attempt)

    return make


def head(github: FakeGithub, branch: str = "main") -> str:
    return github.repo(REPO).branches[branch]


def tree(github: FakeGithub, branch: str = "main") -> dict[str, bytes]:
    repo = github.repo(REPO)
    return repo.commits[repo.branches[branch]].tree


def ours(github: FakeGithub, branch: str = "main") -> list[str]:
    """Messages of the branch's commits that carry the task trailer."""
    repo = github.repo(REPO)
    return [c.message for c in repo.history(repo.branches[branch]) if TRAILER in c.message]


# --- success ---------------------------------------------------------------------------


async def test_files_are_committed_to_the_branch_with_the_task_trailer(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx(files=[
        {"path": "ns/team-a.yaml", "content": "name: team-a\n"},
        {"path": "ns/quota.yaml", "content": "cpu: 2\n"},
    ])  # fmt: skip
    result = await run_action(GithubCommit(), ctx)
    assert tree(github)["ns/team-a.yaml"] == b"name: team-a\n"
    assert tree(github)["ns/quota.yaml"] == b"cpu: 2\n"
    assert ours(github) == [f"Namespace team-a\n\n{TRAILER}\n"] * 2
    assert result.outputs == {
        "commitSha": head(github),
        "commitUrl": f"{github.web_url}/{REPO}/commit/{head(github)}",
        "branch": "main",
    }
    assert result.wait is None
    assert github.api_calls("POST", rf"/repos/{REPO}/pulls") == []
    assert TOKEN not in log_text(ctx)


async def test_an_existing_file_is_updated_and_an_identical_one_left_alone(
    github: FakeGithub, make_ctx: Any
) -> None:
    before = head(github)
    ctx = make_ctx(files=[
        {"path": "README.md", "content": "gitops, managed by Loom\n"},
        {"path": "same.yaml", "content": "kept: true\n"},
    ])  # fmt: skip
    result = await run_action(GithubCommit(), ctx)
    [put] = github.api_calls("PUT", rf"/repos/{REPO}/contents/.+")
    assert put.path.endswith("/README.md")
    assert put.json()["sha"]  # an update names the blob it replaces
    assert tree(github)["README.md"] == b"gitops, managed by Loom\n"
    assert github.repo(REPO).commits[head(github)].parents == [before]
    assert "same.yaml is already up to date" in log_text(ctx)
    assert result.outputs["commitSha"] == head(github)


async def test_nothing_to_change_makes_no_commit_and_reports_the_head(
    github: FakeGithub, make_ctx: Any
) -> None:
    before = head(github)
    result = await run_action(
        GithubCommit(), make_ctx(files=[{"path": "same.yaml", "content": "kept: true\n"}])
    )
    assert head(github) == before and result.outputs["commitSha"] == before


async def test_a_missing_branch_is_created_from_the_base_and_a_pull_request_opened(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx(
        branch="loom/ns-team-a",
        pullRequest=True,
        pullRequestTitle="New namespace team-a",
        pullRequestBody="Requested by ann@example.com",
    )
    main_before = head(github)
    result = await run_action(GithubCommit(), ctx)
    repo = github.repo(REPO)
    assert repo.commits[head(github, "loom/ns-team-a")].parents == [main_before]
    assert head(github) == main_before  # nothing committed to the base
    [pull] = repo.pulls.values()
    assert (pull.title, pull.head, pull.base) == ("New namespace team-a", "loom/ns-team-a", "main")
    assert pull.body == f"Requested by ann@example.com\n\n{TRAILER}"
    assert result.outputs["prUrl"] == f"{github.web_url}/{REPO}/pull/{pull.number}"
    assert result.outputs["prNumber"] == pull.number
    assert result.outputs["commitSha"] == head(github, "loom/ns-team-a")
    assert result.external_refs["url"] == result.outputs["prUrl"]


async def test_an_open_pull_request_for_the_branch_is_reused(
    github: FakeGithub, make_ctx: Any
) -> None:
    first = await run_action(GithubCommit(), make_ctx(branch="feature", pullRequest=True))
    again = make_ctx(
        branch="feature",
        pullRequest=True,
        files=[{"path": "ns/team-a.yaml", "content": "name: team-a\nquota: 3\n"}],
    )
    second = await run_action(GithubCommit(), again)
    assert second.outputs["prNumber"] == first.outputs["prNumber"]
    assert len(github.repo(REPO).pulls) == 1
    assert "already open" in log_text(again)


async def test_the_base_branch_can_be_named(github: FakeGithub, make_ctx: Any) -> None:
    github.repo(REPO).commit("release", "release line", {"VERSION": b"2\n"})
    await run_action(GithubCommit(), make_ctx(branch="fix", baseBranch="release", pullRequest=True))
    [pull] = github.repo(REPO).pulls.values()
    assert pull.base == "release"
    assert tree(github, "fix")["VERSION"] == b"2\n"


# --- waiting for the merge -------------------------------------------------------------


async def test_wait_for_merge_waits_until_merged(github: FakeGithub, make_ctx: Any) -> None:
    ctx = make_ctx(branch="feature", pullRequest=True, waitForMerge=True, waitTimeoutMinutes=60)
    result = await run_action(GithubCommit(), ctx)
    wait = result.wait
    assert wait is not None and wait.kind == WAIT_KIND
    assert wait.timeout_seconds == 3600
    assert wait.state["number"] == result.outputs["prNumber"]

    waiting = await GithubCommit().check(ctx, wait.state)
    assert waiting.status == "waiting" and "to be merged" in (waiting.reason or "")

    github.merge_pull(REPO, wait.state["number"])
    done = await GithubCommit().check(ctx, wait.state)
    assert done.status == "done"
    assert done.outputs == {"mergeCommitSha": head(github)}


async def test_wait_for_merge_fails_when_the_pull_request_is_closed_unmerged(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx(branch="feature", pullRequest=True, waitForMerge=True)
    result = await run_action(GithubCommit(), ctx)
    assert result.wait is not None and result.wait.timeout_seconds is None
    github.close_pull(REPO, result.outputs["prNumber"])
    failed = await GithubCommit().check(ctx, result.wait.state)
    assert failed.status == "failed"
    assert failed.error == f"pull request {result.outputs['prUrl']} was closed without being merged"


async def test_a_check_that_cannot_reach_github_raises_rather_than_failing(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx(branch="feature", pullRequest=True, waitForMerge=True)
    result = await run_action(GithubCommit(), ctx)
    assert result.wait is not None
    github.fail_next(3, 502)
    with pytest.raises(ActionFailed, match="answered 502"):
        await GithubCommit().check(ctx, result.wait.state)  # the wait framework: still waiting


# --- failures --------------------------------------------------------------------------


async def test_a_missing_repository_fails_naming_404_not_retryable(
    github: FakeGithub, make_ctx: Any
) -> None:
    with pytest.raises(ActionFailed) as caught:
        await run_action(GithubCommit(), make_ctx(repo="acme/nope"))
    assert "answered 404" in caught.value.message and "Not Found" in caught.value.message
    assert not caught.value.retryable


async def test_a_5xx_on_the_write_fails_retryable_and_is_not_repeated(
    github: FakeGithub, make_ctx: Any
) -> None:
    github.fail_next(1, 503, method="PUT")
    with pytest.raises(ActionFailed, match="answered 503") as caught:
        await run_action(GithubCommit(), make_ctx())
    assert caught.value.retryable
    assert len(github.api_calls("PUT", rf"/repos/{REPO}/contents/.+")) == 1
    assert ours(github) == []


async def test_a_missing_base_branch_fails_clearly(github: FakeGithub, make_ctx: Any) -> None:
    with pytest.raises(ActionFailed, match="base branch 'develop' does not exist"):
        await run_action(GithubCommit(), make_ctx(branch="x", baseBranch="develop"))


async def test_a_pull_request_from_the_base_branch_itself_is_refused(
    github: FakeGithub, make_ctx: Any
) -> None:
    with pytest.raises(ActionFailed, match="a pull request needs its own branch"):
        await run_action(GithubCommit(), make_ctx(pullRequest=True))
    assert github.api_calls("PUT", ".*") == []


async def test_a_pull_request_github_refuses_fails_with_its_reason(
    github: FakeGithub, make_ctx: Any
) -> None:
    ctx = make_ctx(
        branch="empty", pullRequest=True, files=[{"path": "same.yaml", "content": "kept: true\n"}]
    )
    with pytest.raises(ActionFailed) as caught:
        await run_action(GithubCommit(), ctx)
    assert "answered 422" in caught.value.message
    assert "No commits between main and empty" in caught.value.message


# --- crash, then reconcile -------------------------------------------------------------


async def test_reconcile_without_a_trace_lets_the_attempt_run(
    github: FakeGithub, make_ctx: Any
) -> None:
    assert await run_reconcile(GithubCommit(), make_ctx(attempt=2)) is None
    assert await run_reconcile(GithubCommit(), make_ctx(attempt=2, branch="gone")) is None


async def test_a_crash_between_files_is_finished_without_a_second_commit(
    github: FakeGithub, make_ctx: Any
) -> None:
    files = [
        {"path": "ns/a.yaml", "content": "a\n"},
        {"path": "ns/b.yaml", "content": "b\n"},
    ]
    github.fail_next(1, 502, method="PUT", path=rf"/repos/{REPO}/contents/ns/b.yaml")
    with pytest.raises(ActionFailed):
        await run_action(GithubCommit(), make_ctx(files=files))
    assert len(ours(github)) == 1  # a.yaml made it

    retry = make_ctx(attempt=2, files=files)
    result = await run_reconcile(GithubCommit(), retry)
    assert isinstance(result, ActionResult)
    assert len(ours(github)) == 2  # b.yaml once; a.yaml not again
    assert tree(github)["ns/b.yaml"] == b"b\n"
    assert result.outputs["commitSha"] == head(github)
    assert "ns/a.yaml is already up to date" in log_text(retry)


async def test_a_crash_after_everything_is_found_without_a_duplicate_commit_or_pr(
    github: FakeGithub, make_ctx: Any
) -> None:
    config = {"branch": "loom/ns", "pullRequest": True, "waitForMerge": True}
    first = await run_action(GithubCommit(), make_ctx(**config))  # its result was lost
    commits, pulls = len(github.repo(REPO).commits), len(github.repo(REPO).pulls)

    result = await run_reconcile(GithubCommit(), make_ctx(attempt=2, **config))
    assert result is not None
    assert (len(github.repo(REPO).commits), len(github.repo(REPO).pulls)) == (commits, pulls)
    assert result.outputs == first.outputs
    assert result.wait is not None and result.wait.state == first.wait.state  # type: ignore[union-attr]


async def test_a_crash_before_the_pull_request_opens_it_on_reconcile(
    github: FakeGithub, make_ctx: Any
) -> None:
    config = {"branch": "loom/ns", "pullRequest": True}
    github.fail_next(1, 502, method="POST", path=rf"/repos/{REPO}/pulls")
    with pytest.raises(ActionFailed):
        await run_action(GithubCommit(), make_ctx(**config))
    result = await run_reconcile(GithubCommit(), make_ctx(attempt=2, **config))
    assert result is not None
    assert len(ours(github, "loom/ns")) == 1
    [pull] = github.repo(REPO).pulls.values()
    assert result.outputs["prNumber"] == pull.number


# --- config and registration ------------------------------------------------------------


def test_the_type_is_registered_with_this_executor() -> None:
    assert isinstance(action_types()["github-commit"].executor, GithubCommit)


def test_waiting_for_a_merge_needs_a_pull_request() -> None:
    with pytest.raises(ValidationError, match="waitForMerge needs pullRequest: true"):
        GithubCommitConfig.model_validate(
            {
                "repo": REPO,
                "message": "m",
                "files": [{"path": "a", "content": ""}],
                "waitForMerge": True,
            }
        )
