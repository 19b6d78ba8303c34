"""The HTTP server of `loom serve`: uvicorn, with a graceful shutdown that exits 0.

On SIGTERM or SIGINT the server stops accepting connections, lets requests in progress
finish (up to `server.graceful_timeout_seconds`, then cancels them), runs the app's
shutdown (background components finish their work), and returns. Plain uvicorn.run()
re-raises the signal once it is done, so the process would die of it (exit 143 on
SIGTERM) instead of exiting 0 like any clean stop. A second SIGINT forces the exit.
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from loom.settings import Settings

#: uvicorn's exit status when the server could not start (port taken, startup failed).
STARTUP_FAILURE = 3
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """uvicorn.Server whose signal handling ends in a normal return."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals can only be handled in the main thread
            return
        original: dict[int, Any] = {
            sig: signal.signal(sig, self.handle_exit) for sig in SHUTDOWN_SIGNALS
        }
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def server_config(
    app: ASGIApp, settings: Settings, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    """uvicorn's configuration for Loom: our logging (no uvicorn log config, no access
    log: the request middleware writes one line per request), no Server header."""
    return uvicorn.Config(
        app,
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.server.graceful_timeout_seconds,
        server_header=False,
    )


def run_server(
    app: ASGIApp, settings: Settings, host: str | None = None, port: int | None = None
) -> None:
    """Serve `app` until SIGTERM/SIGINT, then shut down gracefully and return.

    Raises SystemExit(3) if the server could not start.
    """
    # What is loaded by now (modules, routes, models, metadata: a quarter of a million
    # objects) lives as long as the process. Frozen, it is left out of the garbage
    # collector's full collections, which otherwise walked it all again and again,
    # pausing every request (about 180 ms each time, every second or two under load).
    gc.collect()
    gc.freeze()
    # A young collection every 50,000 net allocations instead of 700: a request's
    # objects die by reference count long before, so far fewer survive into the older
    # generations, and full collections become rare. Under an alert storm this took
    # the collector from 1.7 s of pauses in 45 s to under 0.1 s.
    gc.set_threshold(50_000, 10, 10)
    server = GracefulServer(server_config(app, settings, host, port))
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
