"""Startup benchmark: how fast `loom serve` answers /health, and how much memory it holds
when idle.

Each run starts `loom serve` on a fresh SQLite file (so the time includes migrating the
database and creating the first admin), measures the time from process start until
GET /api/v1/health answers 200, waits idle, then reads the resident memory of the process
and its children. Targets: under 2 s to /health, under 150 MB RSS.

    python benchmarks/startup.py [--runs 5] [--idle 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

TARGET_SECONDS = 2.0
TARGET_RSS_MB = 150.0


@dataclass(frozen=True)
class Run:
    seconds_to_health: float
    rss_mb: float
    exit_code: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loom_command() -> str:
    beside_python = Path(sys.executable).with_name("loom")
    return str(beside_python) if beside_python.exists() else "loom"


def rss_mb(process: psutil.Process) -> float:
    """Resident memory of `process` and all its children, in MB."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 1_000_000


def one_run(idle_seconds: float, timeout: float = 30.0) -> Run:
    with tempfile.TemporaryDirectory(prefix="loom-bench-") as tmp:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
        env.update(
            LOOM_DATABASE_URL=f"sqlite:///{tmp}/loom.db",
            LOOM_AUTH__BOOTSTRAP_ADMIN_PASSWORD="benchmark-password",  # noqa: S106 - throwaway
            LOOM_LOG__LEVEL="warning",
        )
        url = f"http://127.0.0.1:{port}/api/v1/health"
        with httpx.Client(timeout=1.0) as client:
            begin = time.perf_counter()
            server = subprocess.Popen(
                [loom_command(), "serve", "--port", str(port)],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while True:
                    elapsed = time.perf_counter() - begin
                    if server.poll() is not None:
                        raise RuntimeError(f"loom serve exited with {server.returncode}")
                    if elapsed > timeout:
                        raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")
                    try:
                        if client.get(url).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.005)
                time.sleep(idle_seconds)
                memory = rss_mb(psutil.Process(server.pid))
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        return Run(seconds_to_health=elapsed, rss_mb=memory, exit_code=server.returncode)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    memory_gb = psutil.virtual_memory().total / 1_000_000_000
    return (
        f"{cpu_model()}, {psutil.cpu_count(logical=False) or '?'} cores / "
        f"{psutil.cpu_count()} threads, {memory_gb:.1f} GB RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}"
    )


def summary(name: str, values: list[float], unit: str, target: float) -> str:
    median = statistics.median(values)
    verdict = "ok" if median < target else "MISSED"
    return (
        f"{name:<16} median {median:7.3f} {unit}   min {min(values):7.3f}   "
        f"max {max(values):7.3f}   target < {target:g} {unit}: {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="number of runs (default 5)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds before RSS")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"command: {loom_command()} serve (fresh SQLite file per run)\n")
    runs = []
    for number in range(1, args.runs + 1):
        run = one_run(args.idle)
        runs.append(run)
        print(
            f"run {number}: /health after {run.seconds_to_health:.3f} s, "
            f"RSS after {args.idle:g} s idle {run.rss_mb:.1f} MB, exit code {run.exit_code}"
        )
    print()
    print(summary("time to /health", [r.seconds_to_health for r in runs], "s", TARGET_SECONDS))
    print(summary("idle RSS", [r.rss_mb for r in runs], "MB", TARGET_RSS_MB))


if __name__ == "__main__":
    main()
