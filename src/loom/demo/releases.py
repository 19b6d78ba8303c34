"""The demo's release history: which version of each sample service went to dev, staging
and production over the last month, as plain data (no database), so the registry's
version matrix and drift report have something true-looking to show.

Each service had a few releases, roughly weekly, each one deployed to dev, a few hours
later to staging and a day later to production, so most services end in step. Two do
not, one per kind of drift the registry reports:

- payments-api: its last release reached staging 5 days ago, not production (`behind`,
  past the default 72 h threshold);
- orders: production runs a hot-fix deployed there only, 36 h ago (`unseen_version`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Whom each owning team's deployments name (the demo's people, loom.demo.seed).
DEPLOYERS = {
    "payments": "alice@loom.local",
    "checkout": "bob@loom.local",
    "search": "carol@loom.local",
    "data": "dan@loom.local",
    "platform": "priya@loom.local",
}
#: Days ago of a service's releases to dev, oldest first (most services).
RELEASE_DAYS = (27, 20, 12, 5)
#: Fewer releases for a service nobody works on any more.
QUIET = {"legacy-reports": (26, 9)}
TO_STAGING = timedelta(hours=3)
TO_PRODUCTION = timedelta(hours=26)
#: The service whose last release stopped at staging, and since how long.
BEHIND = "payments-api"
BEHIND_SINCE = timedelta(days=5)
#: The service with a production hot-fix, and how long ago it went out.
HOTFIX = "orders"
HOTFIX_AGO = timedelta(hours=36)


@dataclass(frozen=True)
class Release:
    """One deployment to make."""

    environment: str
    version: str
    commit_sha: str
    deployed_at: datetime
    deployed_by: str
    description: str = ""


def commit_of(service: str, version: str) -> str:
    """A stable, made-up commit sha for a version (the same on every start)."""
    return hashlib.sha1(f"{service}@{version}".encode(), usedforsecurity=False).hexdigest()


def _versions(index: int, count: int) -> list[str]:
    """`count` successive minor versions, numbered differently for each service."""
    major, minor = 1 + index % 3, 2 + (index * 7) % 11
    return [f"{major}.{minor + n}.0" for n in range(count)]


def releases(service: str, team: str, index: int, now: datetime) -> list[Release]:
    """The deployments of the `index`th sample service owned by `team`, oldest first."""
    days = QUIET.get(service, RELEASE_DAYS)
    who = DEPLOYERS.get(team, DEPLOYERS["platform"])
    # Services do not all release at the same hour of the same day.
    shift = timedelta(hours=(index * 5) % 11)
    out: list[Release] = []
    for ago, version in zip(days, _versions(index, len(days)), strict=True):
        sha = commit_of(service, version)
        to_dev = now - timedelta(days=ago) + shift
        stages = [
            ("dev", to_dev),
            ("staging", to_dev + TO_STAGING),
            ("production", to_dev + TO_PRODUCTION),
        ]
        last = version == _versions(index, len(days))[-1]
        if service == BEHIND and last:
            to_staging = now - BEHIND_SINCE
            stages = [("dev", to_staging - TO_STAGING), ("staging", to_staging)]
        out += [Release(env, version, sha, at, who) for env, at in stages]
    if service == HOTFIX:
        major, minor, _patch = out[-1].version.split(".")
        fix = f"{major}.{minor}.1"
        why = "Hot-fix straight to production: double charge on retried orders"
        out.append(Release("production", fix, commit_of(service, fix), now - HOTFIX_AGO, who, why))
    return sorted(out, key=lambda r: r.deployed_at)
