"""Fixtures for the CLI tests: an isolated config dir and environment, a runner that
refuses tracebacks, and a logged-in CLI against the live server."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loom.cli.main import app
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer

_KEEP = {"LOOM_TEST_DATABASE_URL"}


@pytest.fixture(autouse=True)
def cli_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No LOOM_* variable, no ./loom.toml and no real home directory leaks into a test."""
    for name in list(os.environ):
        if name.startswith("LOOM_") and name not in _KEEP:
            monkeypatch.delenv(name)
    config_dir = tmp_path / "cli-config"
    monkeypatch.setenv("LOOM_CLI_CONFIG_DIR", str(config_dir))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return config_dir


def run(*args: str, input: str | None = None, code: int = 0) -> Result:
    """Invoke `loom ARGS`, check the exit code, and that no traceback escaped."""
    result = CliRunner().invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"loom {' '.join(args)} raised") from result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == code, (
        f"loom {' '.join(args)}: exit {result.exit_code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


@dataclass
class LoggedIn:
    url: str
    credentials_file: Path


@pytest.fixture
def logged_in(live_server: LiveServer, cli_config_dir: Path) -> LoggedIn:
    """The CLI logged in as the admin with a password, as a person would."""
    run("login", "--url", live_server.url, "--email", ADMIN_EMAIL, input=f"{ADMIN_PASSWORD}\n")
    return LoggedIn(url=live_server.url, credentials_file=cli_config_dir / "credentials.json")


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
