"""Structured logs: one JSON object per line on stderr, carrying the correlation id of
the request (or job) that wrote it, with secret values masked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog

from loom.platform.logging import configure_logging
from loom.settings import LogSettings
from tests.platform.conftest import AppFactory


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def restore_logging() -> Any:
    yield
    configure_logging(LogSettings(level="warning"))


@pytest.mark.sqlite_only
async def test_request_log_line_carries_its_correlation_id(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    _app, client = await make_app(log={"level": "info"})
    capsys.readouterr()

    response = await client.get("/api/v1/me", headers={"X-Correlation-ID": "cid-log-42"})

    lines = json_lines(capsys.readouterr().err)
    (request,) = [line for line in lines if line.get("event") == "request"]
    assert request["correlation_id"] == "cid-log-42" == response.headers["x-correlation-id"]
    assert request["level"] == "info"
    assert request["status"] == 401
    assert request["method"] == "GET"
    assert request["timestamp"].endswith("Z")


def test_values_under_secret_looking_keys_are_masked(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="info"), stream=stream)

    structlog.get_logger("test").info(
        "connecting", password="hunter2", api_token="loom_abc", nested={"secret": "s"}, user="ann"
    )

    (line,) = json_lines(stream.getvalue())
    assert line["password"] == line["api_token"] == line["nested"]["secret"] == "••••"
    assert line["user"] == "ann"
    assert "hunter2" not in stream.getvalue() and "loom_abc" not in stream.getvalue()


def test_stdlib_loggers_share_the_format_and_context(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="info"), stream=stream)

    with structlog.contextvars.bound_contextvars(correlation_id="cid-stdlib"):
        logging.getLogger("sqlalchemy.engine").warning("pool exhausted")
    logging.getLogger("uvicorn.access").warning("duplicate access line")

    (line,) = json_lines(stream.getvalue())
    assert line["event"] == "pool exhausted"
    assert line["logger"] == "sqlalchemy.engine"
    assert line["level"] == "warning"
    assert line["correlation_id"] == "cid-stdlib"


def test_level_filters_lines(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="warning"), stream=stream)
    log = structlog.get_logger("test")
    log.info("hidden")
    log.warning("shown")
    assert [line["event"] for line in json_lines(stream.getvalue())] == ["shown"]


def test_console_output_for_terminals(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="info", json_output=False), stream=stream)
    structlog.get_logger("test").info("hello", token="t0ken")
    text = stream.getvalue()
    assert "hello" in text and not text.startswith("{")
    assert "t0ken" not in text
