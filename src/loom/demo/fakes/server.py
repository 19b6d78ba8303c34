"""A real HTTP/1.1 server on 127.0.0.1 in a background thread, for tests and the demo.

    with FakeServer() as server:
        server.route("POST", "/things", Reply(201, json={"id": 7}))
        server.route("GET", r"/things/(?P<id>\\d+)", lambda call: Reply(json=call.params))
        ... call server.url + "/things" ...
        assert server.calls[0].json() == {...}

Routes match the whole path (a regular expression; named groups land in
`call.params`); the latest route added for a path wins, so a test can change an answer
midway. An unmatched call gets a 404. `connections` counts accepted TCP connections, so
a test can prove that nothing reached the server at all.

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedCall:
    """One request as the server received it. Header names are lower-cased."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    """What the server answers: a status, a JSON or raw body, headers, and an optional
    delay before anything is sent (to provoke client timeouts)."""

    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.json is not None:
            headers.setdefault("Content-Type", "application/json")
            return jsonlib.dumps(self.json).encode(), headers
        body = self.body.encode() if isinstance(self.body, str) else self.body
        return body, headers


Handler = Callable[[RecordedCall], Reply]


class FakeServer:
    """See the module docstring. Start with `with FakeServer() as server:`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: list[RecordedCall] = []
        #: Keep only the latest this many calls (None: all; a long-running demo sets it).
        self.max_calls: int | None = None
        self.connections = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _handler_class(self))
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, answer: Reply | Handler) -> None:
        handler: Handler = answer if callable(answer) else (lambda _call: answer)
        with self._lock:
            self._routes.insert(0, (method.upper(), re.compile(path), handler))

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _answer(self, call: RecordedCall) -> Reply:
        with self._lock:
            self.calls.append(call)
            if self.max_calls is not None and len(self.calls) > self.max_calls:
                del self.calls[: len(self.calls) - self.max_calls]
            routes = list(self._routes)
        for method, pattern, handler in routes:
            match = pattern.fullmatch(call.path)
            if method == call.method and match:
                call.params = {k: v for k, v in match.groupdict().items() if v is not None}
                return handler(call)
        return Reply(404, json={"error": f"no route for {call.method} {call.path}"})

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The default backlog (5) drops the connections of a burst (the demo's checks, run
    # together): the client retries a second later and the check looks slow.
    request_queue_size = 128
    owner: FakeServer

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._count_connection()
        super().process_request(request, client_address)


def _handler_class(owner: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

        def handle(self) -> None:
            # The client may give up first (a timeout test): nothing left to answer.
            with contextlib.suppress(ConnectionError, TimeoutError):
                super().handle()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            call = RecordedCall(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self._read_body(),
            )
            reply = owner._answer(call)
            if reply.delay and owner._stopping.wait(reply.delay):
                return
            body, headers = reply.encoded()
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return _Handler
