"""The repository half of the fake GitHub's API (loom/demo/fakes/github.py): repositories,
contents (GET, PUT with blob-sha checks), git refs, commits lists and pull requests, with
GitHub's status codes, JSON shapes and error bodies.

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, unquote

from loom.demo.fakes.github_git import Pull, Repo, blob_sha, iso
from loom.demo.fakes.github_wire import DOCS, ApiBase, error
from loom.demo.fakes.server import RecordedCall, Reply


class ReposApi(ApiBase):
    """Handlers of /repos/{owner}/{repo}, /contents, /git/ref(s), /commits, /pulls."""

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
                "object": {"sha": sha, "type": "commit",
                           "url": f"{api}/git/commits/{sha}"}}  # fmt: skip

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
            {
                "resource": "PullRequest",
                "field": name,
                "code": "invalid" if body.get(name) else "missing_field",
            }
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
