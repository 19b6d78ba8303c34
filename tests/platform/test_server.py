"""Graceful shutdown of a real server process: on SIGTERM or SIGINT it stops accepting
connections, finishes the requests in progress, and exits 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

pytestmark = pytest.mark.sqlite_only

#: run_server() alone, as any embedding of Loom would call it.
RUN_SERVER = (
    "import sys; from loom.app import create_app; from loom.platform.server import run_server;"
    " from loom.settings import load_settings; s = load_settings();"
    " run_server(create_app(s), s, port=int(sys.argv[1]))"
)
COMMANDS = [
    pytest.param("run_server", id="run_server"),
    pytest.param("loom_serve", id="loom_serve"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(kind: str, port: int) -> list[str]:
    if kind == "loom_serve":
        return [str(Path(sys.executable).with_name("loom")), "serve", "--port", str(port)]
    return [sys.executable, "-c", RUN_SERVER, str(port)]


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    env.update(
        LOOM_DATABASE_URL=f"sqlite:///{tmp_path / 'loom.db'}",
        LOOM_AUTH__BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        LOOM_AUTH__BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOOM_SERVER__GRACEFUL_TIMEOUT_SECONDS="15",
    )
    return env


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Server:
    """A server subprocess on a free port, its output in a file."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.port = free_port()
        self.log = (tmp_path / "server.log").open("w+")
        self.process = subprocess.Popen(
            command(kind, self.port),
            env=server_env(tmp_path),
            cwd=tmp_path,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def healthy(self) -> bool:
        assert self.process.poll() is None, f"server died:\n{self.output()}"
        try:
            url = f"http://127.0.0.1:{self.port}/api/v1/health"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def accepts_connections(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    started: list[Server] = []

    def start(kind: str) -> Server:
        server = Server(kind, tmp_path)
        started.append(server)
        assert wait_until(server.healthy, 30), f"no /health in 30 s:\n{server.output()}"
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.parametrize("kind", COMMANDS)
def test_sigterm_finishes_the_request_in_flight_then_exits_zero(
    start_server: Callable[[str], Server], kind: str
) -> None:
    server = start_server(kind)
    body = json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode()
    head = (
        "POST /api/v1/auth/login HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    # A request in flight: its headers are in, its body is still on its way.
    in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    in_flight.sendall(head + body[:10])
    # The server takes connections in order: once a later request is answered, it has
    # taken this one (just after start-up its loop may still be busy for a moment).
    assert wait_until(server.healthy), "no answer to a request after the one in flight"
    time.sleep(0.3)

    server.process.send_signal(signal.SIGTERM)
    assert wait_until(lambda: not server.accepts_connections()), "still accepting connections"
    assert server.process.poll() is None, "exited before the request in flight finished"

    in_flight.sendall(body[10:])
    response = b""
    while chunk := in_flight.recv(65536):
        response += chunk
    in_flight.close()
    assert response.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", response
    assert ADMIN_EMAIL.encode() in response

    assert server.process.wait(timeout=20) == 0, server.output()
    assert "loom stopped" in server.output()


@pytest.mark.parametrize("kind", ["run_server", "loom_serve"])
def test_sigint_exits_zero(start_server: Callable[[str], Server], kind: str) -> None:
    server = start_server(kind)
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0, server.output()
    assert "loom stopped" in server.output()


def test_a_server_that_cannot_bind_exits_three(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            command("run_server", port),
            env=server_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 3, result.stderr.decode()
