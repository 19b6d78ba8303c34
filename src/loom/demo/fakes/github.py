"""A stateful fake of the GitHub REST API (version 2022-11-28) on a real local server:
github.com's layout at the root, or GitHub Enterprise Server's under `/api/v3`
(`FakeGithub(prefix="/api/v3")`).

    with FakeGithub(tokens={"ghp_test"}) as github:
        repo = github.add_repo("acme/infra", files={"README.md": "hi"})
        github.add_workflow("acme/infra", "deploy.yml", inputs={"name": {"required": True}})
        ... point a GithubInstance at github.api_url ...
        github.advance_run(run_id, "completed", "success")

What it speaks, with GitHub's status codes, JSON shapes and error bodies: repository
contents (GET, PUT with sha checks), git refs, commits lists (paginated with `Link`),
pull requests (create, get, list by head/state), workflows, `workflow_dispatch` (204, or
200 with the run's id when `return_run_details` is sent; `run_details=False` answers like
a server that does not know that key), workflow runs, run artifacts (a 302 to a second
server standing in for the blob store, so credentials must not follow), token auth
(`Bearer` or `token`) and GitHub App installation tokens (RS256 JWT checked against the
app's public key). Test controls: `advance_run`, `merge_pull`, `close_pull`,
`add_artifact`, `fail_next` (5xx) and `delay` (slowness).

This module holds the server, auth and test controls; the handlers are in
github_repos.py and github_actions.py, the repository model in github_git.py.

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
import yaml

from loom.demo.fakes.github_actions import ActionsApi
from loom.demo.fakes.github_git import Artifact, Repo, Run, Workflow, iso, next_id, now
from loom.demo.fakes.github_repos import ReposApi
from loom.demo.fakes.github_wire import error
from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

_R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


class FakeGithub(ReposApi, ActionsApi):
    """See the module docstring."""

    def __init__(
        self,
        *,
        prefix: str = "",
        tokens: Iterable[str] = ("ghp_test",),
        run_details: bool = True,
    ) -> None:
        self.prefix = prefix.rstrip("/")
        self.tokens = set(tokens)
        self.run_details = run_details
        self.server = FakeServer()
        self.downloads = FakeServer()  # the blob store artifact downloads redirect to
        self.repos: dict[str, Repo] = {}
        self.apps: dict[str, tuple[bytes, set[str]]] = {}  # app id → (public key, installations)
        self.installation_tokens: dict[str, datetime] = {}
        self.token_lifetime = timedelta(hours=1)
        self.hide_new_runs = False  # dispatched runs stay out of lists until show_runs()
        self._failures: list[tuple[str, re.Pattern[str], Reply]] = []
        self._delay = 0.0
        self._lock = threading.RLock()
        self._routes()

    # --- lifecycle and recorded calls ----------------------------------------------

    def __enter__(self) -> FakeGithub:
        self.server.start()
        self.downloads.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
        self.downloads.stop()

    @property
    def calls(self) -> list[RecordedCall]:
        return self.server.calls

    def api_calls(self, method: str, pattern: str) -> list[RecordedCall]:
        """Calls of `method` whose path (without the prefix) matches `pattern`."""
        return [
            call
            for call in self.server.calls
            if call.method == method and re.fullmatch(pattern, call.path[len(self.prefix) :])
        ]

    # --- test controls -------------------------------------------------------------

    def add_repo(
        self, full_name: str, *, default_branch: str = "main", files: Mapping[str, str] = {}
    ) -> Repo:
        owner, name = full_name.split("/")
        repo = Repo(owner, name, default_branch)
        repo.commit(default_branch, "Initial commit", {p: c.encode() for p, c in files.items()})
        with self._lock:
            self.repos[full_name.lower()] = repo
        return repo

    def add_workflow(
        self,
        full_name: str,
        file: str,
        *,
        name: str = "",
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        run_name: str | None = None,
        dispatch: bool = True,
    ) -> Workflow:
        """Commit `.github/workflows/<file>` to the default branch and register it."""
        repo = self.repo(full_name)
        trigger: dict[str, Any] = {"workflow_dispatch": {"inputs": dict(inputs or {})}}
        document: dict[str, Any] = {"name": name or file, "on": trigger if dispatch else "push"}
        if run_name:
            document["run-name"] = run_name
        document["jobs"] = {"main": {"runs-on": "ubuntu-latest", "steps": [{"run": "true"}]}}
        path = f".github/workflows/{file}"
        with self._lock:
            repo.commit(
                repo.default_branch, f"Add {file}", {path: yaml.safe_dump(document).encode()}
            )
            workflow = Workflow(next_id(), name or file, path, now())
            repo.workflows[workflow.id] = workflow
        return workflow

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def add_app(self, app_id: str, public_key_pem: bytes, installation_id: str) -> None:
        with self._lock:
            self.apps.setdefault(app_id, (public_key_pem, set()))[1].add(installation_id)

    def advance_run(self, run_id: int, status: str, conclusion: str | None = None) -> None:
        with self._lock:
            run = self._run(run_id)
            run.status, run.conclusion, run.updated_at = status, conclusion, now()

    def unfinished_runs(self) -> list[tuple[Repo, Run]]:
        """Runs not completed yet, with their repository."""
        with self._lock:
            return [(repo, run) for repo in self.repos.values() for run in repo.runs.values()
                    if run.status != "completed"]  # fmt: skip

    def show_runs(self) -> None:
        """Make runs created while `hide_new_runs` was set appear in lists."""
        with self._lock:
            for repo in self.repos.values():
                for run in repo.runs.values():
                    run.visible = True

    def add_artifact(
        self, run_id: int, name: str, files: Mapping[str, str | bytes], *, expired: bool = False
    ) -> Artifact:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, content in files.items():
                archive.writestr(path, content)
        with self._lock:
            run = self._run(run_id)
            repo = next(r for r in self.repos.values() if run_id in r.runs)
            artifact = Artifact(next_id(), run.id, name, buffer.getvalue(), now(), expired)
            repo.artifacts[artifact.id] = artifact
        return artifact

    def merge_pull(self, full_name: str, number: int) -> None:
        with self._lock:
            repo = self.repo(full_name)
            repo.merge(repo.pulls[number])

    def close_pull(self, full_name: str, number: int) -> None:
        with self._lock:
            pull = self.repo(full_name).pulls[number]
            pull.state, pull.closed_at = "closed", now()

    def fail_next(
        self, count: int = 1, status: int = 502, *, method: str = "", path: str = ".*"
    ) -> None:
        """The next `count` API calls (of `method`, to a path matching `path`, when given)
        answer `status` with GitHub's error body, without effect."""
        rule = (method.upper(), re.compile(path))
        with self._lock:
            self._failures.extend((*rule, error(status, "Server Error")) for _ in range(count))

    def delay(self, seconds: float) -> None:
        """Every API answer from now on waits `seconds` before it is sent."""
        self._delay = seconds

    def _run(self, run_id: int) -> Run:
        for repo in self.repos.values():
            if run_id in repo.runs:
                return repo.runs[run_id]
        raise KeyError(run_id)

    # --- plumbing ------------------------------------------------------------------

    def _routes(self) -> None:
        table: list[tuple[str, str, Callable[..., Reply], bool]] = [
            ("POST", r"/app/installations/(?P<installation>\d+)/access_tokens", self._token, False),
            ("GET", _R, self._get_repo, True),
            ("GET", _R + r"/contents/(?P<path>.+)", self._get_contents, True),
            ("PUT", _R + r"/contents/(?P<path>.+)", self._put_contents, True),
            ("GET", _R + r"/git/ref/(?P<ref>.+)", self._get_ref, True),
            ("POST", _R + r"/git/refs", self._create_ref, True),
            ("GET", _R + r"/commits", self._list_commits, True),
            ("POST", _R + r"/pulls", self._create_pull, True),
            ("GET", _R + r"/pulls", self._list_pulls, True),
            ("GET", _R + r"/pulls/(?P<number>\d+)", self._get_pull, True),
            ("GET", _R + r"/actions/workflows/(?P<wf>[^/]+)", self._get_workflow, True),
            ("POST", _R + r"/actions/workflows/(?P<wf>[^/]+)/dispatches", self._dispatch, True),
            ("GET", _R + r"/actions/workflows/(?P<wf>[^/]+)/runs", self._list_runs, True),
            ("GET", _R + r"/actions/runs/(?P<run>\d+)", self._get_run, True),
            ("GET", _R + r"/actions/runs/(?P<run>\d+)/artifacts", self._list_artifacts, True),
            ("GET", _R + r"/actions/artifacts/(?P<artifact>\d+)/zip", self._artifact_zip, True),
        ]
        for method, pattern, handler, needs_token in table:
            self.server.route(method, re.escape(self.prefix) + pattern,
                              self._guard(handler, needs_token))  # fmt: skip
        self.downloads.route("GET", r"/blobs/(?P<artifact>\d+)", self._download)

    def _guard(self, handler: Callable[..., Reply], needs_token: bool) -> Callable[..., Reply]:
        def answer(call: RecordedCall) -> Reply:
            with self._lock:
                failure = self._failure_for(call)
                if failure is not None:
                    reply = failure
                elif needs_token and (refused := self._refuse(call)) is not None:
                    reply = refused
                else:
                    repo = None
                    if "owner" in call.params:
                        repo = self.repos.get(
                            f"{call.params['owner']}/{call.params['repo']}".lower()
                        )
                        if repo is None:
                            reply = error(404, "Not Found")
                            return self._finish(reply)
                    reply = handler(call, repo) if repo is not None else handler(call)
            return self._finish(reply)

        return answer

    def _failure_for(self, call: RecordedCall) -> Reply | None:
        for index, (method, path, reply) in enumerate(self._failures):
            if method in ("", call.method) and path.fullmatch(call.path[len(self.prefix) :]):
                del self._failures[index]
                return Reply(reply.status, json=reply.json)
        return None

    def _finish(self, reply: Reply) -> Reply:
        reply.headers.setdefault("Content-Type", "application/json; charset=utf-8")
        reply.headers.update({
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": secrets.token_hex(8).upper(),
            "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999",
            "X-RateLimit-Resource": "core",
        })  # fmt: skip
        reply.delay = self._delay
        return reply

    def _refuse(self, call: RecordedCall) -> Reply | None:
        scheme, _, credential = call.headers.get("authorization", "").partition(" ")
        if not credential:
            return error(401, "Requires authentication")
        known = credential in self.tokens or (
            credential in self.installation_tokens and self.installation_tokens[credential] > now()
        )
        if scheme.lower() not in ("bearer", "token") or not known:
            return error(401, "Bad credentials")
        return None

    # --- app installation tokens ---------------------------------------------------

    def _token(self, call: RecordedCall) -> Reply:
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            return error(401, "A JSON web token could not be decoded")
        issuer = str(jwt.decode(token, options={"verify_signature": False}).get("iss", ""))
        if issuer not in self.apps:
            return error(401, f"Integration not found: {issuer}")
        public_key, installations = self.apps[issuer]
        try:
            claims = jwt.decode(token, public_key, algorithms=["RS256"], leeway=0)
        except jwt.ExpiredSignatureError:
            return error(
                401,
                "'Expiration time' claim ('exp') must be a numeric value "
                "representing the future time at which the assertion expires",
            )
        except jwt.PyJWTError:
            return error(401, "A JSON web token could not be decoded")
        if int(claims["exp"]) - int(claims["iat"]) > 600:
            return error(401, "'Expiration time' claim ('exp') is too far in the future")
        if call.params["installation"] not in installations:
            return error(404, "Not Found")
        value = "ghs_" + secrets.token_urlsafe(27)
        expires = now() + self.token_lifetime
        self.installation_tokens[value] = expires
        return Reply(201, json={"token": value, "expires_at": iso(expires),
                                "permissions": {"contents": "write", "actions": "write",
                                                "pull_requests": "write"},
                                "repository_selection": "all"})  # fmt: skip
