"""`loom config show` and `loom config validate`: the local settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run


def test_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SECRET_KEY", "s3cret-value-that-must-not-print")
    monkeypatch.setenv("LOOM_DATABASE_URL", "postgresql://loom:db-pass-xyz@db.internal/loom")
    monkeypatch.setenv("LOOM_AUTH__BOOTSTRAP_ADMIN_PASSWORD", "boot-pass-xyz")
    for output in ("table", "json"):
        text = run("config", "show", "-o", output).stdout
        for secret in ("s3cret-value", "db-pass-xyz", "boot-pass-xyz"):
            assert secret not in text
    data = json.loads(run("config", "show", "-o", "json").stdout)
    assert data["secret_key"] == "••••"
    assert data["database_url"] == "postgresql+asyncpg://loom:***@db.internal/loom"
    assert data["auth"]["bootstrap_admin_password"] == "••••"


def test_show_table_names_each_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "9191")
    data = json.loads(run("config", "show", "-o", "json").stdout)
    assert data["server"]["port"] == 9191
    text = run("config", "show").stdout
    assert "server.port" in text and "LOOM_SERVER__PORT" in text and "9191" in text


def test_show_reads_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "loom.toml"
    config.write_text('env = "test"\n[workers]\nconcurrency = 7\n')
    monkeypatch.setenv("LOOM_CONFIG", str(config))
    data = json.loads(run("config", "show", "-o", "json").stdout)
    assert (data["env"], data["workers"]["concurrency"]) == ("test", 7)


def test_validate_accepts_the_defaults() -> None:
    assert run("config", "validate").stdout.startswith("valid")
    assert json.loads(run("config", "validate", "-o", "json").stdout)["valid"] is True


def test_validate_names_every_bad_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "abc")
    monkeypatch.setenv("LOOM_WORKERS__CONCURRENCY", "0")
    result = run("config", "validate", code=1)
    assert "LOOM_SERVER__PORT" in result.stderr
    assert "LOOM_WORKERS__CONCURRENCY" in result.stderr
    assert result.stdout == ""
    data = json.loads(run("config", "validate", "-o", "json", code=1).stdout)
    assert data["valid"] is False and "LOOM_SERVER__PORT" in data["error"]


def test_validate_refuses_the_default_secret_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "prod")
    assert "default secret key is refused" in run("config", "validate", code=1).stderr


def test_show_with_bad_settings_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_DATABASE_URL", "mysql://x")
    assert "LOOM_DATABASE_URL" in run("config", "show", code=1).stderr


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_CONFIG", "/nonexistent/loom.toml")
    assert "/nonexistent/loom.toml" in run("config", "validate", code=1).stderr
