"""The portal: server-rendered pages (Jinja2 + htmx), one module of pages per domain.

Front-end files (htmx, Pico CSS, swagger-ui) are served from /static/vendor, filled
from the npm registry by `make assets`; nothing loads from a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from loom.web import (
    alerts,
    approvals,
    auth,
    catalog,
    changes,
    docs,
    entry,
    errors,
    home,
    incident_actions,
    incident_page,
    incidents,
    oncall,
    oncall_log,
    oncall_maintenance,
    oncall_settings,
    ordering,
    placeholders,
    queue,
    request_page,
    requests,
    scorecards,
    search,
    service_actions,
    service_edit,
    service_graph,
    service_page,
    service_versions,
    services,
    ticket_status,
)
from loom.web.headers import SecurityHeadersMiddleware

STATIC_DIR = Path(__file__).parent / "static"


def install_portal(app: FastAPI) -> None:
    """Mount static files and the portal's pages on the app."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    pages = (
        home, auth, docs, catalog, entry, ordering, requests, request_page, ticket_status,
        approvals, queue, search,
        # /ui/services/graph, /versions and .../{slug}/edit before the service page's
        # /{slug} and /{slug}/{tab}.
        services, service_graph, service_versions, service_edit, service_actions,
        service_page, scorecards,
        incidents, incident_actions, incident_page, alerts, changes,
        oncall, oncall_settings, oncall_maintenance, oncall_log,
    )  # fmt: skip
    for module in (*pages, placeholders):
        app.include_router(module.router)
    # Last: answers every /ui path nothing else did with the portal's 404 page.
    app.include_router(errors.router)
    app.add_middleware(SecurityHeadersMiddleware)
