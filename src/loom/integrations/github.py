"""The GitHub REST API (github.com or GitHub Enterprise Server) as Loom uses it: one
configured instance (`settings.integrations.github[name]`), its credentials (a token,
or a GitHub App installation token obtained with a JWT and cached), the standard
headers, and the few endpoints the GitHub actions need: contents, git refs, commits,
pull requests, workflows, runs and artifacts.

Every call goes through `loom.actions.calls.send` on the client of integration
`github:<instance>` (its breaker, timeouts, task log, masked errors). Reads are retried
at most twice, briefly, on a 5xx or a transport error while the breaker stays closed;
writes never are.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from loom.actions.base import ActionContext, ActionFailed
from loom.actions.calls import CallResult, send, status_failure
from loom.integrations.github_app import InstallationTokens, app_jwt, installation_tokens
from loom.integrations.instances import choose

API_VERSION = "2022-11-28"
REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
#: Pauses before the retries of a failed read.
RETRY_DELAYS: tuple[float, ...] = (0.25, 0.75)


def json_object(result: CallResult) -> dict[str, Any]:
    """The answer's JSON object; ActionFailed if GitHub sent something else."""
    if not isinstance(result.body, dict):
        raise ActionFailed(f"{result.method} {result.url}: expected a JSON object from GitHub")
    return result.body


class GithubClient:
    """Calls to one GitHub instance on behalf of one task attempt (`ctx`)."""

    def __init__(
        self,
        ctx: ActionContext[Any],
        instance: str | None = None,
        *,
        tokens: InstallationTokens = installation_tokens,
        retry_delays: tuple[float, ...] | None = None,
    ) -> None:
        self.ctx = ctx
        self.name, self.instance = choose(
            "GitHub", "github", ctx.settings.integrations.github, instance
        )
        self.integration = f"github:{self.name}"
        self.api_url = self.instance.api_url.rstrip("/")
        self.web_url = self.instance.web_url.rstrip("/")
        self._tokens = tokens
        self._retry_delays = RETRY_DELAYS if retry_delays is None else retry_delays
        host = httpx.URL(self.api_url).host
        ctx.http.client(self.integration, extra_hosts=[host, *self.instance.download_hosts])
        ctx.add_secret(self.instance.token.get_secret_value())

    # --- plumbing ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        expect: Collection[int] = (200,),
        also: Collection[int] = (),
    ) -> CallResult:
        """Call `path` (under the API URL, or an absolute URL GitHub gave). A status in
        `expect` or `also` is returned; any other raises ActionFailed naming it."""
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "Authorization": f"Bearer {await self._credential()}",
        }
        delays = list(self._retry_delays) if method == "GET" else []
        while True:
            try:
                result = await send(
                    self.ctx, self.integration, method, url,
                    headers=headers, params=params, json_body=json_body,
                )  # fmt: skip
            except ActionFailed as exc:
                if not (exc.retryable and delays and self._may_retry(url)):
                    raise
            else:
                if result.status in expect or result.status in also:
                    return result
                if not (result.status >= 500 and delays and self._may_retry(url)):
                    raise status_failure(self.ctx, result, expect)
            delay = delays.pop(0)
            self.ctx.log(f"retrying {method} in {delay:g} s", "warning")
            await asyncio.sleep(delay)

    def _may_retry(self, url: str) -> bool:
        netloc = httpx.URL(url).netloc.decode("ascii")
        return self.ctx.http.breaker(self.integration, netloc).state == "closed"

    async def _credential(self) -> str:
        instance = self.instance
        if not instance.app_id:
            token = instance.token.get_secret_value()
            if not token:
                raise ActionFailed(f"GitHub instance {self.name!r} has no token and no App")
            return token
        key = (self.api_url, instance.app_id, instance.installation_id)
        cached = self._tokens.get(key)
        if cached is not None:
            self.ctx.add_secret(cached)
            return cached
        signed = app_jwt(
            instance.app_id, instance.app_private_key.get_secret_value(), self._tokens.clock()
        )
        self.ctx.add_secret(signed)
        installation = quote(instance.installation_id, safe="")
        result = await send(
            self.ctx, self.integration, "POST",
            f"{self.api_url}/app/installations/{installation}/access_tokens",
            headers={"Accept": "application/vnd.github+json", "Authorization": f"Bearer {signed}",
                     "X-GitHub-Api-Version": API_VERSION},
            expect_status=[201],
        )  # fmt: skip
        body = json_object(result)
        issued = body.get("token")
        if not isinstance(issued, str) or not issued:
            raise ActionFailed("GitHub answered an installation token request without a token")
        token = issued
        self.ctx.add_secret(token)
        self._tokens.put(key, token, str(body.get("expires_at", "")))
        self.ctx.log(f"GitHub App installation token obtained (expires {body.get('expires_at')})")
        return token

    @staticmethod
    def repo_path(repo: str) -> str:
        """`/repos/owner/name`; ActionFailed unless `repo` is `owner/name`."""
        if not REPO_PATTERN.match(repo):
            raise ActionFailed(f"repo {repo!r} is not of the form owner/name")
        return f"/repos/{repo}"

    # --- repositories, contents, refs, commits -------------------------------------

    async def default_branch(self, repo: str) -> str:
        body = json_object(await self.request("GET", self.repo_path(repo)))
        return str(body["default_branch"])

    async def get_file(self, repo: str, path: str, ref: str) -> dict[str, Any] | None:
        """The file object (base64 `content`, `sha`), or None when there is none."""
        url = f"{self.repo_path(repo)}/contents/{quote(path.strip('/'))}"
        result = await self.request("GET", url, params={"ref": ref}, also=[404])
        return None if result.status == 404 else json_object(result)

    async def put_file(
        self, repo: str, path: str, content_b64: str, message: str, branch: str, sha: str | None
    ) -> dict[str, Any]:
        """Create (sha None) or update a file with one commit; GitHub's answer."""
        body = {"message": message, "content": content_b64, "branch": branch}
        if sha is not None:
            body["sha"] = sha
        url = f"{self.repo_path(repo)}/contents/{quote(path.strip('/'))}"
        return json_object(await self.request("PUT", url, json_body=body, expect=(200, 201)))

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        url = f"{self.repo_path(repo)}/git/ref/heads/{quote(branch)}"
        result = await self.request("GET", url, also=[404])
        return None if result.status == 404 else str(json_object(result)["object"]["sha"])

    async def create_branch(self, repo: str, branch: str, sha: str) -> None:
        """Create `branch` at `sha`; one that exists already (a race) is fine."""
        body = {"ref": f"refs/heads/{branch}", "sha": sha}
        result = await self.request(
            "POST", f"{self.repo_path(repo)}/git/refs", json_body=body, expect=[201], also=[422]
        )
        if result.status == 422 and "already exists" not in str(result.body):
            raise status_failure(self.ctx, result, [201])

    async def commits(self, repo: str, branch: str, count: int = 100) -> list[dict[str, Any]]:
        """The latest `count` (at most 100) commits of `branch`, newest first; [] when the
        branch does not exist."""
        result = await self.request(
            "GET", f"{self.repo_path(repo)}/commits",
            params={"sha": branch, "per_page": str(count)}, also=[404, 409, 422],
        )  # fmt: skip
        return result.body if result.status == 200 and isinstance(result.body, list) else []

    # --- pull requests -------------------------------------------------------------

    async def pulls_for(self, repo: str, branch: str, state: str = "all") -> list[dict[str, Any]]:
        """Pull requests from `branch` of this repository, newest first."""
        owner = repo.split("/")[0]
        result = await self.request(
            "GET", f"{self.repo_path(repo)}/pulls",
            params={"head": f"{owner}:{branch}", "state": state, "per_page": "100"},
        )  # fmt: skip
        return result.body if isinstance(result.body, list) else []

    async def create_pull(
        self, repo: str, title: str, head: str, base: str, body: str
    ) -> CallResult:
        """POST the pull request; the 201 or a 422 (the caller reads GitHub's reason)."""
        payload = {"title": title, "head": head, "base": base, "body": body}
        return await self.request(
            "POST", f"{self.repo_path(repo)}/pulls", json_body=payload, expect=[201], also=[422]
        )

    async def pull(self, repo: str, number: int) -> dict[str, Any]:
        return json_object(await self.request("GET", f"{self.repo_path(repo)}/pulls/{number}"))

    # --- workflows, runs, artifacts ------------------------------------------------

    def _workflow_path(self, repo: str, workflow: str) -> str:
        return f"{self.repo_path(repo)}/actions/workflows/{quote(workflow, safe='')}"

    async def workflow(self, repo: str, workflow: str) -> dict[str, Any]:
        return json_object(await self.request("GET", self._workflow_path(repo, workflow)))

    async def dispatch(
        self, repo: str, workflow: str, ref: str, inputs: Mapping[str, str]
    ) -> CallResult:
        """Start a `workflow_dispatch` run, asking for its details (GitHub answers 200
        with `workflow_run_id`); a server that does not know `return_run_details`
        (older Enterprise Server: 422 naming it) is asked again without it (204)."""
        url = self._workflow_path(repo, workflow) + "/dispatches"
        body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs), "return_run_details": True}
        result = await self.request("POST", url, json_body=body, expect=(200, 204), also=[422])
        if result.status == 422 and "return_run_details" in str(result.body):
            self.ctx.log("this GitHub does not return run details: dispatching without")
            del body["return_run_details"]
            result = await self.request("POST", url, json_body=body, expect=(204, 200))
        elif result.status == 422:
            raise status_failure(self.ctx, result, (200, 204))
        return result

    async def runs(
        self, repo: str, workflow: str, branch: str, created_since: str | None = None
    ) -> list[dict[str, Any]]:
        """`workflow_dispatch` runs of `workflow` on `branch`, newest first."""
        params = {"event": "workflow_dispatch", "branch": branch, "per_page": "50"}
        if created_since:
            params["created"] = f">={created_since}"
        url = self._workflow_path(repo, workflow) + "/runs"
        runs = json_object(await self.request("GET", url, params=params)).get("workflow_runs")
        return runs if isinstance(runs, list) else []

    async def run(self, repo: str, run_id: int) -> dict[str, Any]:
        url = f"{self.repo_path(repo)}/actions/runs/{int(run_id)}"
        return json_object(await self.request("GET", url))

    async def artifact_zip(self, repo: str, run_id: int, name: str) -> bytes | None:
        """The zip of the run's artifact called `name` (None: the run has none). GitHub
        redirects the download to its storage, which gets no credentials."""
        url = f"{self.repo_path(repo)}/actions/runs/{int(run_id)}/artifacts"
        listing = json_object(await self.request("GET", url, params={"name": name}))
        found = [a for a in listing.get("artifacts") or [] if a.get("name") == name]
        if not found:
            return None
        artifact = found[0]
        if artifact.get("expired"):
            raise ActionFailed(f"artifact {name!r} of run {run_id} has expired")
        result = await self.request("GET", str(artifact["archive_download_url"]))
        return result.content
