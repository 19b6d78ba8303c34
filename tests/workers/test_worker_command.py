"""`loom worker`: a process with only a worker pool, that stops cleanly on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_starts_consuming_and_exits_zero_on_signal(
    tmp_path: Path, signum: signal.Signals, backend: str
) -> None:
    env = {
        **os.environ,
        "LOOM_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "LOOM_LOG__LEVEL": "info",
    }
    loom = Path(sys.executable).parent / "loom"
    subprocess.run([loom, "db", "upgrade"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [loom, "worker", "--concurrency", "2"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and "consumer(s)" not in line:
            line = proc.stdout.readline() if proc.stdout else ""
        assert "2 consumer(s)" in line
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
