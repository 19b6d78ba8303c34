"""`loom health`: readiness and version of a server, and what happens when there is none."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loom import __version__
from tests.cli.conftest import closed_port, run
from tests.conftest import LiveServer


@pytest.mark.sqlite_only
def test_a_ready_server(live_server: LiveServer) -> None:
    result = run("health", "--url", live_server.url)
    assert f"Loom {__version__} at {live_server.url}: ready" in result.stdout
    assert "database" in result.stdout
    data = json.loads(run("health", "--url", live_server.url, "-o", "json").stdout)
    assert data["ready"] is True
    assert data["checks"]["migrations"]["ok"] is True
    assert data["version"]["version"] == __version__


@pytest.mark.sqlite_only
def test_url_comes_from_the_environment(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_URL", live_server.url)
    assert json.loads(run("health", "-o", "json").stdout)["ready"] is True


class _NotReady(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/api/v1/health/ready":
            check = {"ok": False, "detail": "unreachable: OSError"}
            status, body = 503, {"status": "fail", "checks": {"database": check}}
        else:
            status, body = 200, {"version": "9.9.9", "python": "3.11", "database": "postgresql"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def not_ready_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _NotReady)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_is_not_ready_exits_1(not_ready_server: str) -> None:
    result = run("health", "--url", not_ready_server, code=1)
    assert "NOT READY" in result.stdout
    assert "unreachable: OSError" in result.stdout
    data = json.loads(run("health", "--url", not_ready_server, "-o", "json", code=1).stdout)
    assert data["ready"] is False


def test_an_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run("health", "--url", url, code=1)
    assert result.stderr.startswith(f"error: cannot reach Loom at {url} (connection refused)")
