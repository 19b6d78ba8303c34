"""structlog configuration: JSON lines (or readable console lines) on stderr, carrying
the correlation id of the request or job that wrote them, with secrets masked.

Standard-library loggers (uvicorn, SQLAlchemy, Alembic, APScheduler) go through the same
processors and renderer, so every line of the process has one shape.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from loom.audit.masking import mask_secrets
from loom.settings import LogSettings


def _mask_processor(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    masked: MutableMapping[str, Any] = mask_secrets(dict(event))
    return masked


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever `sys.stderr` is at the time of each record
    (so redirections made after configuration, e.g. by pytest, are honoured)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._fixed = stream

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns it; the property decides


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library once for the process.

    Lines go to `stream`, or to the current `sys.stderr` at the time of each line.
    """
    level = getattr(logging, settings.level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.json_output
        else structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())
    )

    def logger_factory(*_args: Any) -> structlog.PrintLogger:
        return structlog.PrintLogger(stream or sys.stderr)

    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our middleware writes one access line per request; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    # APScheduler announces every tick at INFO; its news worth keeping is WARNING and up.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
