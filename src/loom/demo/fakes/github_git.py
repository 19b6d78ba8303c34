"""The repository model behind the fake GitHub (loom/demo/fakes/github.py): commits holding
whole trees, branches pointing at commits, blob shas computed as git does, pull requests,
workflows with their runs and artifacts. Plain data; no HTTP here.

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(1_000_001)


def next_id() -> int:
    return next(_ids)


def blob_sha(content: bytes) -> str:
    """The git object id of a blob, as `git hash-object` computes it."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Commit:
    sha: str
    message: str
    tree: dict[str, bytes]
    parents: list[str]
    date: datetime


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    head: str  # branch name in the same repository
    base: str
    head_sha: str
    draft: bool
    created_at: datetime
    state: str = "open"
    merged: bool = False
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_commit_sha: str | None = None


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    created_at: datetime


@dataclass
class Run:
    id: int
    workflow: Workflow
    display_title: str
    head_branch: str
    head_sha: str
    run_number: int
    created_at: datetime
    inputs: dict[str, Any]
    status: str = "queued"
    conclusion: str | None = None
    updated_at: datetime = field(default_factory=now)
    visible: bool = True


@dataclass
class Artifact:
    id: int
    run_id: int
    name: str
    zip_bytes: bytes
    created_at: datetime
    expired: bool = False


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str
    id: int = field(default_factory=next_id)
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    workflows: dict[int, Workflow] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    _issue_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _run_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def commit(self, branch: str, message: str, changes: dict[str, bytes]) -> Commit:
        """A new commit on `branch` (created from nothing if the repository is empty)."""
        parent = self.branches.get(branch)
        tree = dict(self.commits[parent].tree) if parent else {}
        tree.update(changes)
        seed = f"{parent}{message}{sorted(tree.items())}{next_id()}".encode()
        sha = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        commit = Commit(sha, message, tree, [parent] if parent else [], now())
        self.commits[sha] = commit
        self.branches[branch] = sha
        return commit

    def resolve(self, ref: str) -> Commit | None:
        """A branch, tag, or full commit sha → its commit."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in self.branches:
                return self.commits[self.branches[ref[len(prefix) :]]]
        sha = self.branches.get(ref) or self.tags.get(ref) or ref
        return self.commits.get(sha)

    def history(self, sha: str) -> list[Commit]:
        """First-parent history from `sha`, newest first."""
        found: list[Commit] = []
        current: str | None = sha
        while current is not None:
            commit = self.commits[current]
            found.append(commit)
            current = commit.parents[0] if commit.parents else None
        return found

    def is_ancestor(self, maybe: str, of: str) -> bool:
        return any(commit.sha == maybe for commit in self.history(of))

    def new_pull(self, title: str, body: str | None, head: str, base: str, draft: bool) -> Pull:
        number = next(self._issue_numbers)
        pull = Pull(number, next_id(), title, body, head, base, self.branches[head], draft, now())
        self.pulls[number] = pull
        return pull

    def merge(self, pull: Pull) -> None:
        head = self.commits[self.branches[pull.head]]
        merged = self.commit(pull.base, f"Merge pull request #{pull.number}", dict(head.tree))
        pull.state, pull.merged = "closed", True
        pull.merged_at = pull.closed_at = now()
        pull.merge_commit_sha = merged.sha

    def new_run(self, workflow: Workflow, ref: str, title: str, inputs: dict[str, Any]) -> Run:
        head = self.resolve(ref)
        assert head is not None
        run = Run(next_id(), workflow, title, ref, head.sha, next(self._run_numbers), now(), inputs)
        self.runs[run.id] = run
        return run
