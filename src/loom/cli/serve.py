"""`loom serve` and `loom db`: the commands that act on the local process and database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer

from loom.settings import Settings

db_app = typer.Typer(
    help="Database migrations (acts on LOOM_DATABASE_URL directly).", no_args_is_help=True
)


def _settings() -> Settings:
    from loom.cli.output import fail
    from loom.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default from settings)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080)")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only: no workers or scheduler in this process")
    ] = False,
) -> None:
    """Run the API, the portal, the workers and the scheduler in one process."""
    from loom.app import create_app
    from loom.platform.server import run_server

    settings = _settings()
    if no_worker:
        settings = settings.model_copy(
            update={
                "workers": settings.workers.model_copy(update={"enabled": False}),
                "scheduler": settings.scheduler.model_copy(update={"enabled": False}),
            }
        )
    app = create_app(settings)
    run_server(app, settings, host=host, port=port)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from loom.db.engine import create_engine
    from loom.db.migrate import current_revision, upgrade
    from loom.platform.logging import configure_logging

    settings = _settings()
    configure_logging(settings.log.model_copy(update={"json_output": False}))

    async def run() -> str | None:
        engine = create_engine(settings)
        try:
            await upgrade(engine, revision)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {asyncio.run(run())}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the code's head revision."""
    from loom.db.engine import create_engine
    from loom.db.migrate import current_revision, head_revision

    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database: {asyncio.run(run())}\ncode head: {head_revision()}")


def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Concurrent tasks (default: workers.concurrency)")
    ] = None,
) -> None:
    """Run only a worker pool (no API): as many as needed, on any machines, sharing the
    PostgreSQL queue. Stops gracefully on SIGTERM/SIGINT."""
    import signal

    from loom.platform.logging import configure_logging
    from loom.platform.runtime import Runtime
    from loom.workers.lifecycle import start_workers, stop_workers

    settings = _settings()
    updates = {"enabled": True} | ({"concurrency": concurrency} if concurrency else {})
    settings = settings.model_copy(update={"workers": settings.workers.model_copy(update=updates)})
    configure_logging(settings.log)

    async def run() -> None:
        runtime = Runtime.build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        start_workers(runtime)
        typer.echo(f"loom worker: {settings.workers.concurrency} consumer(s); Ctrl-C to stop")
        await stop.wait()
        await stop_workers(runtime)
        await runtime.close()

    with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
        runner.run(run())


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, which `loom serve` runs on too (uvicorn picks it when installed):
    a worker spends much of its time on database round trips, cheaper there."""
    try:
        import uvloop
    except ImportError:  # not installed where uvicorn[standard] leaves it out (Windows)
        return None
    return uvloop.new_event_loop
