"""A fake webhook receiver on a real local HTTP server: what a team's endpoint for Loom's
generic webhook channel does.

* `POST|PUT /hooks/<name>` with a JSON body → 200 `{"ok": true, "id": <n>}`, the
  delivery kept in `deliveries`;
* a body that is not JSON, or not `Content-Type: application/json` → 400;
* with `hmac_secret` set, `X-Loom-Signature-256: sha256=<hex>` must be the HMAC-SHA256
  of the exact body bytes (compared in constant time) and `X-Loom-Timestamp` present,
  else 401 — as a receiver that validates deliveries does;
* with `authorization` set, the `Authorization` header must equal it, else 401;
* any other path → 404.

`fail(status, retry_after=...)` answers the next calls with a fault (429 with
Retry-After, 500, 404...).

    with FakeWebhookReceiver(hmac_secret="s") as hook:
        ... POST to hook.url + "/hooks/ops" ...
        assert hook.deliveries[0]["incident"]["ref"] == "INC-42"

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from loom.demo.fakes.server import FakeServer, RecordedCall, Reply


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: str | None


class FakeWebhookReceiver:
    """See the module docstring."""

    def __init__(self, *, hmac_secret: str | None = None, authorization: str | None = None) -> None:
        self.hmac_secret = hmac_secret
        self.authorization = authorization
        self.deliveries: list[Any] = []
        self.server = FakeServer()
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        for method in ("POST", "PUT"):
            self.server.route(method, r"/hooks/(?P<name>[A-Za-z0-9_-]+)", self._receive)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> list[RecordedCall]:
        return self.server.calls

    def fail(self, status: int = 500, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` deliveries with `status` (and a Retry-After header)."""
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after))

    def start(self) -> FakeWebhookReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeWebhookReceiver:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _fault(self) -> Reply | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        return Reply(fault.status, json={"ok": False, "error": "injected"}, headers=headers)

    def _receive(self, call: RecordedCall) -> Reply:
        fault = self._fault()
        if fault is not None:
            return fault
        if self.authorization is not None and not hmac.compare_digest(
            call.headers.get("authorization", ""), self.authorization
        ):
            return Reply(401, json={"ok": False, "error": "bad authorization"})
        if self.hmac_secret is not None and not self._signed(call):
            return Reply(401, json={"ok": False, "error": "bad signature"})
        if call.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return Reply(400, json={"ok": False, "error": "expected application/json"})
        try:
            body = json.loads(call.body)
        except ValueError:
            return Reply(400, json={"ok": False, "error": "body is not JSON"})
        with self._lock:
            self.deliveries.append(body)
            number = len(self.deliveries)
        return Reply(200, json={"ok": True, "id": number})

    def _signed(self, call: RecordedCall) -> bool:
        assert self.hmac_secret is not None
        given = call.headers.get("x-loom-signature-256", "")
        expected = hmac.new(self.hmac_secret.encode(), call.body, hashlib.sha256).hexdigest()
        return "x-loom-timestamp" in call.headers and hmac.compare_digest(
            given, "sha256=" + expected
        )
