"""`loom system diagnostics`: the local checks, their verdicts and the exit code."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from loom.cli import diagnostics
from loom.cli.diagnostics import MIB, Status
from tests.cli.conftest import closed_port, run
from tests.conftest import LiveServer

STRONG_KEY = "k" * 40


def checks_of(*args: str, code: int) -> dict[str, dict[str, str]]:
    data = json.loads(run("system", "diagnostics", "-o", "json", *args, code=code).stdout)
    assert data["ok"] is (code == 0)
    return {c["name"]: c for c in data["checks"]}


@pytest.fixture
def free_port(monkeypatch: pytest.MonkeyPatch) -> int:
    port = closed_port()
    monkeypatch.setenv("LOOM_SERVER__PORT", str(port))
    return port


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port held by something that is not Loom (it accepts and never answers HTTP)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("LOOM_SERVER__PORT", str(port))
        yield port


@pytest.mark.sqlite_only
def test_a_migrated_sqlite_file_passes(
    database_url: str, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", database_url)
    monkeypatch.setenv("LOOM_SECRET_KEY", STRONG_KEY)
    checks = checks_of(code=0)
    assert {name: c["status"] for name, c in checks.items()} == {
        "python": "pass",
        "settings": "pass",
        "database": "pass",
        "migrations": "pass",
        "disk space": "pass",
        "server port": "pass",
        "secret key": "pass",
    }
    assert f":{free_port} is free" in checks["server port"]["detail"]


def test_an_unreachable_database_fails(free_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://loom@127.0.0.1:{closed_port()}/loom"
    monkeypatch.setenv("LOOM_DATABASE_URL", url)
    checks = checks_of(code=1)
    assert checks["database"]["status"] == "fail"
    assert "unreachable" in checks["database"]["detail"]
    assert checks["migrations"]["status"] == "skip"
    table = run("system", "diagnostics", code=1).stdout
    assert "fail" in table and "1 failed" in table


def test_the_default_secret_key_warns_in_dev(free_port: int) -> None:
    checks = checks_of(code=0)
    assert checks["secret key"]["status"] == "warn"


def test_invalid_settings_fail_and_skip_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "abc")
    checks = checks_of(code=1)
    assert checks["settings"]["status"] == "fail"
    assert "LOOM_SERVER__PORT" in checks["settings"]["detail"]
    assert checks["database"]["status"] == "skip"


def test_a_missing_sqlite_file_warns_and_is_not_created(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "new.db"
    monkeypatch.setenv("LOOM_DATABASE_URL", f"sqlite:///{path}")
    checks = checks_of(code=0)
    assert checks["database"]["status"] == "warn"
    assert checks["migrations"]["status"] == "warn"
    assert not path.exists()


def test_a_missing_sqlite_directory_fails(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/loom.db")
    assert checks_of(code=1)["database"]["status"] == "fail"


def test_an_unmigrated_database_fails_without_auto_migrate(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    monkeypatch.setenv("LOOM_DATABASE_URL", f"sqlite:///{path}")
    assert checks_of(code=0)["migrations"]["status"] == "warn"  # `loom serve` will migrate
    monkeypatch.setenv("LOOM_DATABASE__AUTO_MIGRATE", "false")
    checks = checks_of(code=1)
    assert checks["database"]["status"] == "pass"
    assert checks["migrations"]["status"] == "fail"
    assert "loom db upgrade" in checks["migrations"]["detail"]


@pytest.mark.sqlite_only
def test_port_held_by_a_running_loom_passes(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", live_server.url.rsplit(":", 1)[1])
    checks = checks_of(code=0)
    assert checks["server port"]["status"] == "pass"
    assert "in use by Loom" in checks["server port"]["detail"]


def test_port_held_by_something_else_warns(listener: int) -> None:
    checks = checks_of(code=0)
    assert checks["server port"]["status"] == "warn"
    assert "not Loom" in checks["server port"]["detail"]


@pytest.mark.parametrize(
    ("free", "status"),
    [(50 * MIB, Status.FAIL), (500 * MIB, Status.WARN), (2048 * MIB, Status.PASS)],
)
def test_disk_space_thresholds(free: int, status: Status) -> None:
    assert diagnostics.classify_free_space(free, "/data").status is status


def test_python_version_threshold() -> None:
    assert diagnostics.check_python((3, 10, 9)).status is Status.FAIL
    assert diagnostics.check_python((3, 11, 0)).status is Status.PASS


def test_default_secret_fails_in_prod() -> None:
    from loom.settings import Settings

    prod = Settings.model_construct(env="prod", secret_key=Settings().secret_key)
    assert diagnostics.check_secret_key(prod).status is Status.FAIL
