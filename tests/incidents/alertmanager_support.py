"""A real Prometheus Alertmanager for the incidents end-to-end test.

`running_alertmanager` writes an `alertmanager.yml` whose one receiver is a webhook to
Loom's `POST /api/v1/alerts/alertmanager` (the alert source's bearer token in
`http_config.authorization`, `send_resolved: true`), starts Debian's
`prometheus-alertmanager` on free local ports with clustering off and its storage in a
temporary directory, waits for `/-/ready`, and stops it afterwards. Alerts go in through
Alertmanager's own API v2 (`POST /api/v2/alerts`), as Prometheus would send them.

The binary is Debian's (`make alertmanager` installs it); when it is missing,
`ensure_alertmanager` tries the same apt-get install (as root, or with password-less
sudo) and otherwise says why it cannot, for the test to skip loudly.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

BINARY = Path("/usr/bin/prometheus-alertmanager")
PACKAGE = "prometheus-alertmanager"
INSTALL_TIMEOUT = 600
T = TypeVar("T")


@functools.cache
def ensure_alertmanager() -> str | None:
    """None when the binary is there (installing the Debian package if need be), else
    why it is not: the reason a test skips with."""
    if BINARY.exists():
        return None
    if shutil.which("apt-get") is None:
        return f"{BINARY} is missing and this machine has no apt-get to install {PACKAGE}"
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return f"{BINARY} is missing; not root and no sudo to install {PACKAGE}"
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [*prefix, "apt-get", "update", "-qq"],
        [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
         PACKAGE],
    ):  # fmt: skip
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{BINARY} is missing and `{' '.join(command)}` failed: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-500:]
            return f"{BINARY} is missing and `{' '.join(command)}` failed: {tail}"
    return None if BINARY.exists() else f"{PACKAGE} installed but {BINARY} is still missing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_yaml(
    webhook_url: str,
    token: str,
    *,
    group_by: Sequence[str] = ("environment",),
    group_wait: str = "1s",
    group_interval: str = "1s",
) -> str:
    """One route to one webhook receiver. Grouping by a label every alert of a scenario
    shares (and that Loom does not group on) sends the scenario's alerts in one
    notification one `group_wait` after the first, and each change (a resolve) one
    `group_interval` later; `repeat_interval` is long so nothing is re-sent unasked.
    JSON is YAML, so the config is written as JSON (no quoting surprises)."""
    config = {
        "route": {
            "receiver": "loom",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "loom",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }
    return json.dumps(config, indent=2)


def am_alert(
    labels: Mapping[str, str],
    *,
    summary: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    generator_url: str = "http://prometheus.test/graph",
) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager's API v2. An `ends_at` in the
    past resolves the alert; without one Alertmanager keeps it firing."""
    alert: dict[str, Any] = {
        "labels": dict(labels),
        "annotations": {"summary": summary or f"{labels.get('alertname', 'Alert')} firing"},
        "startsAt": _iso(starts_at or datetime.now(UTC)),
        "generatorURL": generator_url,
    }
    if ends_at is not None:
        alert["endsAt"] = _iso(ends_at)
    return alert


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Alertmanager:
    """A running Alertmanager: its base URL, and its log for failure messages."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        response = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        assert response.status_code == 200, f"{response.status_code}: {response.text}"

    def alerts(self) -> list[dict[str, Any]]:
        """What Alertmanager holds (`GET /api/v2/alerts`), for diagnostics."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()
        return data

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_alertmanager(
    tmp: Path, webhook_url: str, token: str, *, group_by: Sequence[str] = ("environment",)
) -> Iterator[Alertmanager]:
    """Start Alertmanager with a webhook to `webhook_url`; stop it on exit."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "alertmanager.yml"
    config.write_text(config_yaml(webhook_url, token, group_by=group_by))
    port = free_port()
    log = tmp / "alertmanager.log"
    command = [
        str(BINARY),
        f"--config.file={config}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # empty: no gossip port, no peers
        "--log.level=debug",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    am = Alertmanager(url=f"http://127.0.0.1:{port}", log=log, process=process)
    try:
        _wait_ready(am)
        yield am
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(am: Alertmanager, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if am.process.poll() is not None:
            raise RuntimeError(
                f"alertmanager exited with {am.process.returncode}:\n{am.log_tail()}"
            )
        try:
            if httpx.get(f"{am.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"alertmanager was not ready in {timeout:.0f} s:\n{am.log_tail()}")
        time.sleep(0.05)


def wait_for(
    probe: Callable[[], T | None], what: str, timeout: float = 30, interval: float = 0.2
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
