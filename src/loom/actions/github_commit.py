"""The `github-commit` action: create or update files on a branch of a GitHub
repository (the branch is created from `baseBranch` when missing), optionally open a
pull request from it, and optionally wait until that pull request is merged.

Files are written through the contents API, one commit per file that changes; a file
whose content is already the wanted one is left alone, so running the step again
changes nothing. Every commit message ends with the trailer `Loom-Task: <task id>`
(the pull request body too), which is how `reconcile` recognises the work of an earlier
attempt: it lists the branch's latest commits, and when one carries the trailer it
finishes what that attempt may have left (the remaining files, the pull request, found
by its branch before one is opened) instead of starting again.

Outputs: `commitSha` and `commitUrl` (the last commit written, or the branch head when
nothing needed to change), `branch`, and with a pull request `prUrl` and `prNumber`.
With `waitForMerge` the task waits (kind `github-pr-merged`) until the pull request is
merged (output `mergeCommitSha`), and fails if it is closed without being merged.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import GithubCommitConfig
from loom.actions.calls import status_failure
from loom.actions.waits import CheckResult, Wait
from loom.integrations.github import GithubClient

TRAILER = "Loom-Task"
WAIT_KIND = "github-pr-merged"
CHECK_EVERY_SECONDS = 60.0

Ctx = ActionContext[GithubCommitConfig]


def trailer(ctx: ActionContext[Any]) -> str:
    return f"{TRAILER}: {ctx.task_id}"


class GithubCommit:
    """Executor of `github-commit` tasks."""

    config_model: ClassVar[type[BaseModel]] = GithubCommitConfig

    async def execute(self, ctx: Ctx) -> ActionResult:
        client = GithubClient(ctx, ctx.config.instance)
        base = await _ensure_branch(ctx, client)
        written = await _write_files(ctx, client)
        sha = written or await client.branch_sha(ctx.config.repo, ctx.config.branch)
        return await _finish(ctx, client, str(sha), base, reconciling=False)

    async def reconcile(self, ctx: Ctx) -> ActionResult | None:
        """An earlier attempt's commit on the branch (found by the trailer) means that
        attempt got that far: finish its work. None: nothing of it is there."""
        config = ctx.config
        client = GithubClient(ctx, config.instance)
        mark = trailer(ctx)
        ours = [
            commit
            for commit in await client.commits(config.repo, config.branch)
            if mark in str(commit.get("commit", {}).get("message", ""))
        ]
        if not ours:
            ctx.log(f"no commit on {config.branch} carries {mark}: committing")
            return None
        ctx.log(f"found commit {ours[0]['sha']} of an earlier attempt: finishing its work")
        written = await _write_files(ctx, client)
        base = await _base_branch(client, config) if config.pull_request else ""
        return await _finish(ctx, client, written or str(ours[0]["sha"]), base, reconciling=True)

    async def check(self, ctx: Ctx, state: Mapping[str, Any]) -> CheckResult:
        """Merged: done; closed unmerged: failed; else still waiting."""
        client = GithubClient(ctx, state.get("instance"))
        pull = await client.pull(str(state["repo"]), int(state["number"]))
        url = str(pull.get("html_url") or state.get("url"))
        if pull.get("merged"):
            return CheckResult.done(
                {"mergeCommitSha": pull.get("merge_commit_sha")}, {"pullRequest": url}
            )
        if pull.get("state") == "closed":
            return CheckResult.failed(f"pull request {url} was closed without being merged")
        return CheckResult.waiting(f"waiting for pull request {url} to be merged")


async def _base_branch(client: GithubClient, config: GithubCommitConfig) -> str:
    return config.base_branch or await client.default_branch(config.repo)


async def _ensure_branch(ctx: Ctx, client: GithubClient) -> str:
    """The base branch when it was needed ("" otherwise); the branch exists after."""
    config = ctx.config
    base = await _base_branch(client, config) if config.pull_request else ""
    if config.pull_request and base == config.branch:
        raise ActionFailed(
            f"branch and base branch are both {base!r}: a pull request needs its own branch"
        )
    if await client.branch_sha(config.repo, config.branch) is not None:
        return base
    base = base or await _base_branch(client, config)
    start = await client.branch_sha(config.repo, base)
    if start is None:
        raise ActionFailed(f"base branch {base!r} does not exist in {config.repo}")
    await client.create_branch(config.repo, config.branch, start)
    ctx.log(f"created branch {config.branch} from {base}")
    return base


async def _write_files(ctx: Ctx, client: GithubClient) -> str | None:
    """Write each file that differs from what the branch holds; the sha of the last
    commit made (None when every file was already as wanted)."""
    config = ctx.config
    message = f"{config.message.rstrip()}\n\n{trailer(ctx)}\n"
    last: str | None = None
    for file in config.files:
        wanted = file.content.encode()
        existing = await client.get_file(config.repo, file.path, config.branch)
        if existing is not None and _content(existing) == wanted:
            ctx.log(f"{file.path} is already up to date")
            continue
        answer = await client.put_file(
            config.repo,
            file.path,
            base64.b64encode(wanted).decode(),
            message,
            config.branch,
            str(existing["sha"]) if existing is not None else None,
        )
        last = str(answer["commit"]["sha"])
        ctx.log(f"{'updated' if existing else 'created'} {file.path} in commit {last}")
    return last


def _content(file: Mapping[str, Any]) -> bytes | None:
    """A contents-API file's bytes (None when GitHub did not inline them: over 1 MB)."""
    if file.get("encoding") != "base64":
        return None
    try:
        return base64.b64decode(str(file.get("content", "")))
    except ValueError:
        return None


async def _finish(
    ctx: Ctx, client: GithubClient, sha: str, base: str, *, reconciling: bool
) -> ActionResult:
    config = ctx.config
    commit_url = f"{client.web_url}/{config.repo}/commit/{sha}"
    outputs: dict[str, Any] = {"commitSha": sha, "commitUrl": commit_url, "branch": config.branch}
    refs = {"url": commit_url, "commit": sha}
    if not config.pull_request:
        return ctx.result(outputs, refs)
    pull = await _pull_request(ctx, client, base, reconciling=reconciling)
    outputs.update(prUrl=pull["html_url"], prNumber=pull["number"])
    refs.update(url=str(pull["html_url"]), pullRequest=f"#{pull['number']}")
    result = ctx.result(outputs, refs)
    if config.wait_for_merge:
        minutes = config.wait_timeout_minutes
        result.wait = Wait(
            WAIT_KIND,
            f"waiting for pull request {pull['html_url']} to be merged",
            {
                "instance": client.name,
                "repo": config.repo,
                "number": pull["number"],
                "url": pull["html_url"],
            },
            every_seconds=CHECK_EVERY_SECONDS,
            timeout_seconds=minutes * 60 if minutes else None,
            timeout_message="the pull request was not merged in time",
        )
    return result


async def _pull_request(
    ctx: Ctx, client: GithubClient, base: str, *, reconciling: bool
) -> dict[str, Any]:
    """The pull request from the branch: an earlier attempt's (when reconciling), else
    a new one, else (GitHub says one is open already) the open one."""
    config = ctx.config
    mark = trailer(ctx)
    if reconciling:
        pulls = await client.pulls_for(config.repo, config.branch)
        ours = [p for p in pulls if mark in str(p.get("body") or "")]
        if ours:
            ctx.log(f"found pull request {ours[0]['html_url']} of an earlier attempt")
            return ours[0]
    title = config.pull_request_title or config.message.strip().splitlines()[0]
    body = f"{config.pull_request_body.rstrip()}\n\n{mark}".lstrip()
    result = await client.create_pull(config.repo, title, config.branch, base, body)
    if result.status == 201 and isinstance(result.body, dict):
        ctx.log(f"opened pull request {result.body['html_url']}")
        return result.body
    if "already exists" in str(result.body):
        open_pulls = await client.pulls_for(config.repo, config.branch, state="open")
        if open_pulls:
            ctx.log(
                f"a pull request from {config.branch} is already open: {open_pulls[0]['html_url']}"
            )
            return open_pulls[0]
    raise status_failure(ctx, result, [201])
