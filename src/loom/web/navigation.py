"""The portal's top navigation: one entry per domain, in the order people reach for them."""

from __future__ import annotations

from dataclasses import dataclass

from loom.auth.principal import Principal
from loom.auth.roles import Role


@dataclass(frozen=True)
class NavItem:
    slug: str
    label: str
    href: str
    #: One line shown on the domain's "coming soon" page until its pages exist.
    summary: str
    #: Only organisation admins see the entry (its pages refuse everyone else).
    admin_only: bool = False
    #: Other pages of the domain, outside `href` (its sub-links: /ui/scorecards is Services').
    also: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        if self.href == "/ui":
            return path in ("/ui", "/ui/")
        return any(path == href or path.startswith(href + "/") for href in (self.href, *self.also))

    def visible_to(self, principal: Principal | None) -> bool:
        return not self.admin_only or (principal is not None and principal.org_role >= Role.ADMIN)


NAV: tuple[NavItem, ...] = (
    NavItem("home", "Home", "/ui", "Your teams and the health of this Loom."),
    NavItem(
        "catalog",
        "Catalog",
        "/ui/catalog",
        "Browse the infrastructure you can order, and order it.",
    ),
    NavItem(
        "requests",
        "Requests",
        "/ui/requests",
        "Follow what you ordered, task by task, until it is fulfilled.",
    ),
    NavItem(
        "approvals",
        "Approvals",
        "/ui/approvals",
        "Requests that wait for your approval.",
    ),
    NavItem(
        "services",
        "Services",
        "/ui/services",
        "The service registry: owners, dependencies, versions per environment, health.",
        # Versions (/ui/services/versions) and Scorecards are sub-links on its pages: the
        # top bar has no room for more entries at common widths.
        also=("/ui/scorecards",),
    ),
    NavItem(
        "incidents",
        "Incidents",
        "/ui/incidents",
        "Alerts grouped into incidents, with root cause, related changes and a timeline.",
        # Alerts and Changes are sub-links on its pages, as Services' views are on theirs.
        also=("/ui/alerts", "/ui/changes"),
    ),
    NavItem(
        "oncall",
        "On-call",
        "/ui/oncall",
        "Who is on call, escalation policies and notification rules.",
    ),
    NavItem("runbooks", "Runbooks", "/ui/runbooks", "Runbook documents, executions and approvals."),
    NavItem(
        "insights",
        "Insights",
        "/ui/insights",
        "Forecasts, anomalies, capacity and recommendations.",
    ),
    NavItem("audit", "Audit", "/ui/audit", "The append-only record of who changed what, and when."),
    NavItem(
        "admin", "Admin", "/ui/admin", "Users, teams, tokens and settings of the organisation."
    ),
    NavItem(
        "queue",
        "Queue",
        "/ui/admin/queue",
        "The work queue: depth, messages in flight, dead letters and redrive.",
        admin_only=True,
    ),
)


def nav_item(slug: str) -> NavItem:
    return next(item for item in NAV if item.slug == slug)


def current_slug(path: str) -> str | None:
    """The entry a page belongs to: the longest matching href (/ui/admin/queue is the
    queue's, not the admin's)."""
    found = [item for item in NAV if item.matches(path)]
    return max(found, key=lambda item: len(item.href)).slug if found else None
