"""Getting the catalog repository onto disk: a local directory as it is, or a git
repository cloned (then fetched) with the `git` CLI into a cache directory."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loom.settings import CatalogSettings

_REMOTE = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
_SAFE_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")


class SourceError(Exception):
    """The repository could not be read (bad URL, branch, network, git missing)."""


@dataclass(frozen=True)
class Checkout:
    root: Path
    commit: str | None


def is_remote(source: str) -> bool:
    return bool(_REMOTE.match(source))


def _git(args: list[str], cwd: Path | None, timeout: int) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "echo"}
    try:
        done = subprocess.run(  # noqa: S603 - git from PATH, arguments never go through a shell
            ["git", *args],  # noqa: S607
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise SourceError("the git command is not installed") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} took longer than {timeout} s") from None
    if done.returncode != 0:
        raise SourceError(f"git {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


def head_commit(root: Path, timeout: int = 30) -> str | None:
    """The commit checked out in `root`, or None when it is not a git work tree."""
    if not (root / ".git").exists():
        return None
    try:
        return _git(["rev-parse", "HEAD"], root, timeout)
    except SourceError:
        return None


def checkout(settings: CatalogSettings) -> Checkout:
    """Bring the configured source up to date on disk (blocking: run it in a thread)."""
    source = settings.source
    if not source:
        raise SourceError("no catalog source configured (set LOOM_CATALOG__SOURCE)")
    if not is_remote(source):
        root = Path(source).expanduser().resolve()
        if not root.is_dir():
            raise SourceError(f"catalog directory {root} does not exist")
        return Checkout(root, head_commit(root))
    if not _SAFE_BRANCH.match(settings.branch) or settings.branch.startswith("-"):
        raise SourceError(f"invalid branch name {settings.branch!r}")
    key = hashlib.sha256(f"{source}#{settings.branch}".encode()).hexdigest()[:16]
    root = Path(settings.cache_dir).expanduser().resolve() / key
    timeout = settings.git_timeout_seconds
    if (root / ".git").is_dir():
        _git(["fetch", "--depth", "1", "origin", settings.branch], root, timeout)
        _git(["reset", "--hard", "FETCH_HEAD"], root, timeout)
        _git(["clean", "-fdx"], root, timeout)
    else:
        root.parent.mkdir(parents=True, exist_ok=True)
        _git(
            ["clone", "--depth", "1", "--branch", settings.branch, "--", source, str(root)],
            None,
            timeout,
        )
    return Checkout(root, head_commit(root, timeout))
