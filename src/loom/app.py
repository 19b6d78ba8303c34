"""create_app(): the FastAPI application with its routers, middleware and lifespan."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from starlette.middleware.sessions import SessionMiddleware

from loom import __version__, demo
from loom.api.errors import install_error_handlers
from loom.api.idempotency import IdempotencyMiddleware
from loom.api.middleware import RequestContextMiddleware
from loom.audit.router import router as audit_router
from loom.auth import service as auth_service
from loom.auth.router import router as auth_router
from loom.auth.session_router import router as session_router
from loom.catalog import jobs as catalog_jobs
from loom.catalog.router import router as catalog_router
from loom.catalog.router import tools_router as catalog_tools_router
from loom.catalog.webhooks import router as webhooks_router
from loom.db.migrate import upgrade
from loom.incidents import (
    auto_resolve,  # noqa: F401  (registers incidents.auto_resolve)
    health_events,  # noqa: F401  (registers its periodic job)
)
from loom.incidents.alerts_router import router as alerts_router
from loom.incidents.change_webhooks_router import router as change_webhooks_router
from loom.incidents.changes_router import incident_router as incident_changes_router
from loom.incidents.changes_router import router as changes_router
from loom.incidents.router import router as incidents_router
from loom.incidents.silences_router import router as silences_router
from loom.incidents.sources_router import router as alert_sources_router
from loom.notify.chatops_router import router as chatops_router
from loom.notify.chatops_router import workspaces as chat_workspaces_router
from loom.notify.contacts_router import router as contacts_router
from loom.notify.router import incident_router as incident_notify_router
from loom.notify.router import router as notify_router
from loom.notify.schedules_router import router as schedules_router
from loom.platform.lifecycle import start_background, stop_background
from loom.platform.logging import configure_logging
from loom.platform.metrics import HttpMetrics
from loom.platform.router import metrics_router
from loom.platform.router import router as platform_router
from loom.platform.runtime import Runtime
from loom.platform.tracing import get_tracer
from loom.provisioning.approvals_router import router as approvals_router
from loom.provisioning.callbacks_router import router as callbacks_router
from loom.provisioning.escalation_router import router as escalation_router
from loom.provisioning.router import router as requests_router
from loom.queue.router import router as queue_router
from loom.services import catalog_kinds  # noqa: F401  (registers Service, ScorecardRule documents)
from loom.services.checks import scheduler as check_scheduler
from loom.services.checks.router import router as service_checks_router
from loom.services.deployments_router import environments_router
from loom.services.deployments_router import router as deployments_router
from loom.services.router import graph_router as service_graph_router
from loom.services.router import router as services_router
from loom.services.scorecard_router import router as scorecards_router
from loom.services.search_router import router as search_router
from loom.settings import Settings, get_settings
from loom.web import install_portal
from loom.workers.lifecycle import start_workers, stop_workers

API_PREFIX = "/api/v1"
log = structlog.get_logger("loom.app")


async def prepare_database(runtime: Runtime) -> None:
    """Migrate (when configured) and create the first organisation and admin."""
    if runtime.settings.database.auto_migrate:
        await upgrade(runtime.engine)
    seeded: demo.DemoSeed | None = None
    async with runtime.sessions() as session, session.begin():
        created = await auth_service.bootstrap(session, runtime.settings)
        if created is not None and runtime.settings.demo_data:
            seeded = await demo.seed(session, created.org.id, created.admin.id)
    if created is not None:
        log.info("bootstrapped organisation", org=created.org.slug, admin=created.admin.email)
        if created.generated_password:
            # Printed once, to the terminal only: the log stream may be shipped elsewhere.
            print(
                f"\n  Loom admin created: {created.admin.email}\n"
                f"  password (shown once): {created.generated_password}\n",
                file=sys.stderr,
                flush=True,
            )
    if seeded is not None:
        print(seeded.banner(), file=sys.stderr, flush=True)  # once, like the admin's


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log)
    runtime = Runtime.build(settings)
    tracer = get_tracer(runtime.tracer_provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_database(runtime)
        # Before the workers: the demo's fakes become the instances actions call.
        await demo.start_integrations(runtime)
        if background:
            await start_background(runtime)
            demo.seed_registry_after(runtime, catalog_jobs.start_initial_sync(runtime))
            start_workers(runtime)
        log.info("loom started", version=__version__, database=runtime.engine.dialect.name)
        try:
            yield
        finally:
            if background:
                await stop_workers(runtime)
                await stop_background(runtime)
            await check_scheduler.stop(runtime)
            await demo.stop_integrations(runtime)
            for task in catalog_jobs.pending_syncs(runtime):
                task.cancel()
            await runtime.close()
            log.info("loom stopped")

    app = FastAPI(
        title="Loom",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(platform_router)
    api.include_router(session_router)
    api.include_router(auth_router)
    api.include_router(audit_router)
    api.include_router(catalog_router)
    api.include_router(catalog_tools_router)
    api.include_router(webhooks_router)
    api.include_router(queue_router)
    api.include_router(requests_router)
    api.include_router(approvals_router)
    api.include_router(callbacks_router)
    api.include_router(escalation_router)
    api.include_router(deployments_router)  # before services_router: /services/versions
    api.include_router(environments_router)
    api.include_router(services_router)
    api.include_router(service_graph_router)
    api.include_router(scorecards_router)
    api.include_router(service_checks_router)
    api.include_router(search_router)
    api.include_router(alert_sources_router)
    api.include_router(incidents_router)
    api.include_router(change_webhooks_router)  # before changes_router: /changes/webhooks
    api.include_router(changes_router)
    api.include_router(incident_changes_router)
    api.include_router(alerts_router)
    api.include_router(silences_router)
    api.include_router(notify_router)
    api.include_router(schedules_router)
    api.include_router(contacts_router)
    api.include_router(chat_workspaces_router)
    api.include_router(chatops_router)
    api.include_router(incident_notify_router)
    app.include_router(api)
    app.include_router(metrics_router)
    install_portal(app)

    # Added innermost first: sessions, then idempotency, then the request context outermost.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="loom_session",
        max_age=settings.auth.session_max_age_seconds,
        same_site="lax",
        https_only=settings.auth.cookie_secure,
    )
    app.add_middleware(IdempotencyMiddleware, runtime=runtime)
    app.add_middleware(
        RequestContextMiddleware, metrics=HttpMetrics.register(runtime.registry), tracer=tracer
    )
    return app
