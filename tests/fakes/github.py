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
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import jwt
import yaml

from tests.fakes.github_git import Artifact, Pull, Repo, Run, Workflow, blob_sha, iso, next_id, now
from tests.fakes.server import FakeServer, RecordedCall, Reply

DOCS = "https://docs.github.com/rest"
_R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


def error(status: int, message: str, docs: str = DOCS, **extra: Any) -> Reply:
    return Reply(status, json={"message": message, "documentation_url": docs, **extra,
                               "status": str(status)})  # fmt: skip


class FakeGithub:
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

    # --- lifecycle and addresses ---------------------------------------------------

    def __enter__(self) -> FakeGithub:
        self.server.start()
        self.downloads.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
        self.downloads.stop()

    @property
    def api_url(self) -> str:
        return self.server.url + self.prefix

    @property
    def web_url(self) -> str:
        return self.server.url

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

    def _links(self, repo: Repo) -> tuple[str, str]:
        return (f"{self.api_url}/repos/{repo.full_name}", f"{self.web_url}/{repo.full_name}")

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
            return error(401, "'Expiration time' claim ('exp') must be a numeric value "
                              "representing the future time at which the assertion expires")  # fmt: skip
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

    # --- repositories, contents, refs, commits -------------------------------------

    def _get_repo(self, call: RecordedCall, repo: Repo) -> Reply:
        api, web = self._links(repo)
        return Reply(json={
            "id": repo.id, "name": repo.name, "full_name": repo.full_name, "private": True,
            "owner": {"login": repo.owner, "type": "Organization"}, "html_url": web, "url": api,
            "default_branch": repo.default_branch, "visibility": "private",
        })  # fmt: skip

    def _file(self, repo: Repo, path: str, ref: str, content: bytes) -> dict[str, Any]:
        api, web = self._links(repo)
        sha = blob_sha(content)
        return {
            "type": "file", "encoding": "base64", "size": len(content),
            "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
            "content": base64.encodebytes(content).decode(),
            "url": f"{api}/contents/{quote(path)}?ref={ref}", "git_url": f"{api}/git/blobs/{sha}",
            "html_url": f"{web}/blob/{ref}/{quote(path)}",
            "download_url": f"{self.server.url}/raw/{repo.full_name}/{ref}/{quote(path)}",
        }  # fmt: skip

    def _get_contents(self, call: RecordedCall, repo: Repo) -> Reply:
        ref = call.query.get("ref", [repo.default_branch])[0]
        commit = repo.resolve(ref)
        if commit is None:
            return error(404, f"No commit found for the ref {ref}")
        path = unquote(call.params["path"]).strip("/")
        if path not in commit.tree:
            return error(404, "Not Found", DOCS + "/repos/contents#get-repository-content")
        return Reply(json=self._file(repo, path, ref, commit.tree[path]))

    def _put_contents(self, call: RecordedCall, repo: Repo) -> Reply:
        body, path = call.json(), unquote(call.params["path"]).strip("/")
        missing = [key for key in ("message", "content") if not isinstance(body.get(key), str)]
        if missing:
            return error(422, f'Invalid request.\n\n"{missing[0]}" wasn\'t supplied.')
        try:
            content = base64.b64decode(body["content"], validate=True)
        except ValueError:
            return error(422, "content is not valid Base64")
        branch = body.get("branch") or repo.default_branch
        if branch not in repo.branches:
            return error(404, f"Branch {branch} not found")
        tree = repo.commits[repo.branches[branch]].tree
        existing = blob_sha(tree[path]) if path in tree else None
        if existing is not None and "sha" not in body:
            return error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if body.get("sha") is not None and body["sha"] != existing:
            return error(409, f"{path} does not match {body['sha']}")
        commit = repo.commit(branch, body["message"], {path: content})
        api, web = self._links(repo)
        file = self._file(repo, path, branch, content)
        del file["content"], file["encoding"]
        return Reply(201 if existing is None else 200, json={"content": file, "commit": {
            "sha": commit.sha, "url": f"{api}/git/commits/{commit.sha}",
            "html_url": f"{web}/commit/{commit.sha}", "message": commit.message,
            "author": {"name": "loom", "email": "loom@example.com", "date": iso(commit.date)},
            "committer": {"name": "loom", "email": "loom@example.com", "date": iso(commit.date)},
            "tree": {"sha": blob_sha(repr(sorted(commit.tree)).encode())},
            "parents": [{"sha": p, "html_url": f"{web}/commit/{p}"} for p in commit.parents],
        }})  # fmt: skip

    def _ref(self, repo: Repo, branch: str) -> dict[str, Any]:
        api, _ = self._links(repo)
        sha = repo.branches[branch]
        return {"ref": f"refs/heads/{branch}", "node_id": f"REF_{branch}",
                "url": f"{api}/git/refs/heads/{quote(branch)}",
                "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"}}  # fmt: skip

    def _get_ref(self, call: RecordedCall, repo: Repo) -> Reply:
        ref = unquote(call.params["ref"])
        branch = ref.removeprefix("heads/")
        if not ref.startswith("heads/") or branch not in repo.branches:
            return error(404, "Not Found", DOCS + "/git/refs#get-a-reference")
        return Reply(json=self._ref(repo, branch))

    def _create_ref(self, call: RecordedCall, repo: Repo) -> Reply:
        body = call.json()
        ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return error(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        if sha not in repo.commits:
            return error(422, "Object does not exist")
        branch = ref.removeprefix("refs/heads/")
        if branch in repo.branches:
            return error(422, "Reference already exists")
        repo.branches[branch] = sha
        return Reply(201, json=self._ref(repo, branch))

    def _list_commits(self, call: RecordedCall, repo: Repo) -> Reply:
        ref = call.query.get("sha", [repo.default_branch])[0]
        head = repo.resolve(ref)
        if head is None:
            return error(404, f"No commit found for SHA: {ref}")
        api, web = self._links(repo)
        items = [{
            "sha": c.sha, "node_id": f"C_{c.sha[:8]}", "url": f"{api}/commits/{c.sha}",
            "html_url": f"{web}/commit/{c.sha}",
            "commit": {"message": c.message, "url": f"{api}/git/commits/{c.sha}",
                       "author": {"name": "loom", "email": "loom@example.com", "date": iso(c.date)},
                       "committer": {"name": "loom", "email": "loom@example.com",
                                     "date": iso(c.date)}},
            "parents": [{"sha": p} for p in c.parents],
        } for c in repo.history(head.sha)]  # fmt: skip
        return self._page(call, items)

    def _page(self, call: RecordedCall, items: list[Any], key: str | None = None) -> Reply:
        per_page = min(int(call.query.get("per_page", ["30"])[0]), 100)
        page = int(call.query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={quote(v[0])}" for k, v in call.query.items() if k != "page")
            nxt = f"{self.server.url}{call.path}?{query}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        body = chunk if key is None else {"total_count": len(items), key: chunk}
        return Reply(json=body, headers=headers)

    # --- pull requests -------------------------------------------------------------

    def _pull(self, repo: Repo, pull: Pull, *, full: bool) -> dict[str, Any]:
        api, web = self._links(repo)
        data: dict[str, Any] = {
            "url": f"{api}/pulls/{pull.number}", "id": pull.id, "node_id": f"PR_{pull.id}",
            "html_url": f"{web}/pull/{pull.number}", "number": pull.number,
            "state": pull.state, "locked": False, "title": pull.title, "body": pull.body,
            "draft": pull.draft, "created_at": iso(pull.created_at),
            "closed_at": iso(pull.closed_at) if pull.closed_at else None,
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "head": {"label": f"{repo.owner}:{pull.head}", "ref": pull.head,
                     "sha": repo.branches.get(pull.head, pull.head_sha)},
            "base": {"label": f"{repo.owner}:{pull.base}", "ref": pull.base,
                     "sha": repo.branches.get(pull.base)},
        }  # fmt: skip
        if full:  # the single-PR endpoint adds these; lists do not carry them
            data.update({"merged": pull.merged, "mergeable": None if pull.merged else True,
                         "merged_by": {"login": "octocat"} if pull.merged else None})  # fmt: skip
        return data

    def _create_pull(self, call: RecordedCall, repo: Repo) -> Reply:
        body = call.json()
        head = str(body.get("head", "")).removeprefix(f"{repo.owner}:")
        base = str(body.get("base", ""))
        invalid = [
            {"resource": "PullRequest", "field": name, "code": "invalid" if body.get(name) else "missing_field"}
            for name, branch in (("base", base), ("head", head))
            if branch not in repo.branches
        ]  # fmt: skip
        if not body.get("title"):
            invalid.append({"resource": "PullRequest", "field": "title", "code": "missing_field"})
        if not invalid:
            if any(p.head == head and p.base == base and p.state == "open"
                   for p in repo.pulls.values()):  # fmt: skip
                message = f"A pull request already exists for {repo.owner}:{head}."
                invalid.append({"resource": "PullRequest", "code": "custom", "message": message})
            elif repo.is_ancestor(repo.branches[head], repo.branches[base]):
                message = f"No commits between {base} and {head}"
                invalid.append({"resource": "PullRequest", "code": "custom", "message": message})
        if invalid:
            return error(422, "Validation Failed", DOCS + "/pulls/pulls#create-a-pull-request",
                         errors=invalid)  # fmt: skip
        pull = repo.new_pull(body["title"], body.get("body"), head, base, bool(body.get("draft")))
        return Reply(201, json=self._pull(repo, pull, full=True))

    def _list_pulls(self, call: RecordedCall, repo: Repo) -> Reply:
        state = call.query.get("state", ["open"])[0]
        head = call.query.get("head", [""])[0]
        base = call.query.get("base", [""])[0]
        found = [
            self._pull(repo, p, full=False)
            for p in sorted(repo.pulls.values(), key=lambda p: -p.number)
            if state in ("all", p.state)
            and (not head or head == f"{repo.owner}:{p.head}")
            and (not base or base == p.base)
        ]
        return self._page(call, found)

    def _get_pull(self, call: RecordedCall, repo: Repo) -> Reply:
        pull = repo.pulls.get(int(call.params["number"]))
        if pull is None:
            return error(404, "Not Found", DOCS + "/pulls/pulls#get-a-pull-request")
        return Reply(json=self._pull(repo, pull, full=True))

    # --- workflows and runs --------------------------------------------------------

    def _workflow(self, repo: Repo, key: str) -> Workflow | None:
        key = unquote(key)
        for workflow in repo.workflows.values():
            if key in (str(workflow.id), workflow.path.rsplit("/", 1)[-1]):
                return workflow
        return None

    def _get_workflow(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(404, "Not Found", DOCS + "/actions/workflows#get-a-workflow")
        api, web = self._links(repo)
        return Reply(json={
            "id": workflow.id, "node_id": f"W_{workflow.id}", "name": workflow.name,
            "path": workflow.path, "state": "active", "created_at": iso(workflow.created_at),
            "updated_at": iso(workflow.created_at), "url": f"{api}/actions/workflows/{workflow.id}",
            "html_url": f"{web}/blob/{repo.default_branch}/{workflow.path}",
            "badge_url": f"{web}/workflows/{quote(workflow.name)}/badge.svg",
        })  # fmt: skip

    def _dispatch(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(
                404, "Not Found", DOCS + "/actions/workflows#create-a-workflow-dispatch-event"
            )
        body = call.json()
        unknown = sorted(
            set(body) - {"ref", "inputs", *(["return_run_details"] if self.run_details else [])}
        )
        if unknown:
            return error(422, f'Invalid request.\n\n"{unknown[0]}" is not a permitted key.')
        ref = str(body.get("ref", ""))
        commit = repo.resolve(ref)
        if commit is None:
            return error(422, f"No ref found for: {ref}")
        document = yaml.safe_load(commit.tree.get(workflow.path, b"{}")) or {}
        trigger = document.get("on", document.get(True))
        if not isinstance(trigger, dict) or "workflow_dispatch" not in trigger:
            return error(422, "Workflow does not have 'workflow_dispatch' trigger")
        declared = (trigger["workflow_dispatch"] or {}).get("inputs") or {}
        inputs = body.get("inputs") or {}
        if len(inputs) > 25:
            return error(
                422, "you may only define up to 25 `inputs` for a `workflow_dispatch` event"
            )
        if extra := sorted(set(inputs) - set(declared)):
            return error(422, f"Unexpected inputs provided: {json.dumps(extra)}")
        for name, spec in declared.items():
            if (spec or {}).get("required") and name not in inputs and "default" not in spec:
                return error(422, f"Required input '{name}' not provided")
        title = str(document.get("run-name") or workflow.name)
        title = re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}",
                       lambda m: str(inputs.get(m[1], "")), title)  # fmt: skip
        run = repo.new_run(workflow, ref, title, inputs)
        run.visible = not self.hide_new_runs
        if body.get("return_run_details"):
            api, web = self._links(repo)
            return Reply(200, json={"workflow_run_id": run.id, "run_url": f"{api}/actions/runs/{run.id}",
                                    "html_url": f"{web}/actions/runs/{run.id}"})  # fmt: skip
        return Reply(204)

    def _run_json(self, repo: Repo, run: Run) -> dict[str, Any]:
        api, web = self._links(repo)
        return {
            "id": run.id, "name": run.workflow.name, "node_id": f"WFR_{run.id}",
            "head_branch": run.head_branch, "head_sha": run.head_sha, "path": run.workflow.path,
            "display_title": run.display_title, "run_number": run.run_number,
            "event": "workflow_dispatch", "status": run.status, "conclusion": run.conclusion,
            "workflow_id": run.workflow.id, "url": f"{api}/actions/runs/{run.id}",
            "html_url": f"{web}/actions/runs/{run.id}", "created_at": iso(run.created_at),
            "updated_at": iso(run.updated_at), "run_attempt": 1,
            "run_started_at": iso(run.created_at),
            "artifacts_url": f"{api}/actions/runs/{run.id}/artifacts",
            "workflow_url": f"{api}/actions/workflows/{run.workflow.id}",
            "actor": {"login": "loom-bot"}, "triggering_actor": {"login": "loom-bot"},
        }  # fmt: skip

    def _list_runs(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(
                404, "Not Found", DOCS + "/actions/workflow-runs#list-workflow-runs-for-a-workflow"
            )
        query = {key: values[0] for key, values in call.query.items()}
        runs = [
            run for run in sorted(repo.runs.values(), key=lambda r: -r.id)
            if run.workflow is workflow and run.visible
            and query.get("event", "workflow_dispatch") == "workflow_dispatch"
            and query.get("branch", run.head_branch) == run.head_branch
            and query.get("status", run.status) in (run.status, run.conclusion)
            and _created_matches(query.get("created"), run.created_at)
        ]  # fmt: skip
        return self._page(call, [self._run_json(repo, r) for r in runs], "workflow_runs")

    def _get_run(self, call: RecordedCall, repo: Repo) -> Reply:
        run = repo.runs.get(int(call.params["run"]))
        if run is None:
            return error(404, "Not Found", DOCS + "/actions/workflow-runs#get-a-workflow-run")
        return Reply(json=self._run_json(repo, run))

    def _artifact_json(self, repo: Repo, artifact: Artifact) -> dict[str, Any]:
        api, _ = self._links(repo)
        return {
            "id": artifact.id, "node_id": f"A_{artifact.id}", "name": artifact.name,
            "size_in_bytes": len(artifact.zip_bytes), "url": f"{api}/actions/artifacts/{artifact.id}",
            "archive_download_url": f"{api}/actions/artifacts/{artifact.id}/zip",
            "expired": artifact.expired, "created_at": iso(artifact.created_at),
            "expires_at": iso(artifact.created_at + timedelta(days=90)),
            "workflow_run": {"id": artifact.run_id, "repository_id": repo.id},
        }  # fmt: skip

    def _list_artifacts(self, call: RecordedCall, repo: Repo) -> Reply:
        run_id = int(call.params["run"])
        if run_id not in repo.runs:
            return error(404, "Not Found")
        name = call.query.get("name", [None])[0]
        found = [
            self._artifact_json(repo, a)
            for a in repo.artifacts.values()
            if a.run_id == run_id and (name is None or a.name == name)
        ]
        return self._page(call, found, "artifacts")

    def _artifact_zip(self, call: RecordedCall, repo: Repo) -> Reply:
        artifact = repo.artifacts.get(int(call.params["artifact"]))
        if artifact is None:
            return error(404, "Not Found")
        if artifact.expired:
            return error(410, "Artifact has expired")
        signature = secrets.token_hex(8)
        location = f"{self.downloads.url}/blobs/{artifact.id}?sig={signature}"
        return Reply(302, headers={"Location": location})

    def _download(self, call: RecordedCall) -> Reply:
        for repo in self.repos.values():
            artifact = repo.artifacts.get(int(call.params["artifact"]))
            if artifact is not None:
                return Reply(body=artifact.zip_bytes, headers={"Content-Type": "application/zip"})
        return Reply(404, body="<Error><Code>BlobNotFound</Code></Error>",
                     headers={"Content-Type": "application/xml"})  # fmt: skip


def _created_matches(spec: str | None, created: datetime) -> bool:
    """GitHub's `created` filter: `>=X`, `>X`, `<=X`, `<X`, `X..Y` or a date/time."""
    if not spec:
        return True

    def at(value: str, end_of_day: bool = False) -> datetime:
        if "T" not in value:
            value += "T23:59:59Z" if end_of_day else "T00:00:00Z"
        return datetime.fromisoformat(value)

    for op, test in (
        (">=", datetime.__ge__),
        ("<=", datetime.__le__),
        (">", datetime.__gt__),
        ("<", datetime.__lt__),
    ):
        if spec.startswith(op):
            return bool(test(created, at(spec[len(op) :], op.startswith("<"))))
    if ".." in spec:
        low, high = spec.split("..", 1)
        return at(low) <= created <= at(high, True)
    return at(spec) <= created <= at(spec, True)
