"""Settings: LOOM_* environment variables and loom.toml, validated at start with errors
that name the bad setting and its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from loom.settings import DEFAULT_SECRET_KEY, Settings, SettingsError, load_settings, masked_dump

STRONG_SECRET = "s" * 40


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No LOOM_* variable nor loom.toml from the machine running the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("LOOM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_serve_the_embedded_mode() -> None:
    settings = load_settings()
    assert settings.env == "dev"
    assert settings.database_url == "sqlite+aiosqlite:///./loom.db"
    assert settings.is_sqlite
    assert settings.server.port == 8080
    assert settings.scheduler.enabled and settings.workers.enabled


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "test")
    monkeypatch.setenv("LOOM_DATABASE_URL", "sqlite:////var/lib/loom/loom.db")
    monkeypatch.setenv("LOOM_ALLOWED_HOSTS", '["loom.example.com"]')
    settings = load_settings()
    assert settings.env == "test"
    assert settings.database_url == "sqlite+aiosqlite:////var/lib/loom/loom.db"
    assert settings.allowed_hosts == ["loom.example.com"]


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "9001")
    monkeypatch.setenv("LOOM_LOG__LEVEL", "debug")
    monkeypatch.setenv("LOOM_TELEMETRY__METRICS_PUBLIC", "true")
    settings = load_settings()
    assert settings.server.port == 9001
    assert settings.server.host == "127.0.0.1"  # the rest of the group keeps its defaults
    assert settings.log.level == "debug"
    assert settings.telemetry.metrics_public is True


def test_toml_file_named_by_loom_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "elsewhere.toml",
        'env = "test"\n[server]\nport = 9100\nhost = "10.0.0.5"\n[workers]\nconcurrency = 8\n',
    )
    monkeypatch.setenv("LOOM_CONFIG", str(config))
    settings = load_settings()
    assert settings.env == "test"
    assert (settings.server.host, settings.server.port) == ("10.0.0.5", 9100)
    assert settings.workers.concurrency == 8


def test_loom_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    write_toml(tmp_path / "loom.toml", "[server]\nport = 9200\n")
    assert load_settings().server.port == 9200


def test_environment_beats_toml_setting_by_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_toml(tmp_path / "loom.toml", '[server]\nport = 9100\nhost = "10.0.0.5"\n')
    monkeypatch.setenv("LOOM_SERVER__PORT", "9300")
    settings = load_settings()
    assert settings.server.port == 9300  # from the environment
    assert settings.server.host == "10.0.0.5"  # from the file


def test_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "dev")
    assert load_settings(env="test").env == "test"


def test_bad_value_names_the_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "eighty")
    monkeypatch.setenv("LOOM_LOG__LEVEL", "loud")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "server.port (LOOM_SERVER__PORT)" in message and "'eighty'" in message
    assert "log.level (LOOM_LOG__LEVEL)" in message and "'loud'" in message


def test_out_of_range_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_SERVER__PORT", "70000")
    with pytest.raises(SettingsError, match=r"server\.port \(LOOM_SERVER__PORT\).*65535"):
        load_settings()


def test_unknown_setting_in_toml_is_refused(tmp_path: Path) -> None:
    write_toml(tmp_path / "loom.toml", "[server]\nprot = 9100\n")
    with pytest.raises(SettingsError, match=r"server\.prot \(LOOM_SERVER__PROT\)"):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOOM_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match=r"LOOM_CONFIG: no such file .*nope\.toml"):
        load_settings()


def test_malformed_toml_is_named(tmp_path: Path) -> None:
    write_toml(tmp_path / "loom.toml", "[server\nport = 1\n")
    with pytest.raises(SettingsError, match=r"loom\.toml"):
        load_settings()


def test_prod_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "prod")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "secret_key (LOOM_SECRET_KEY)" in message and "default secret key" in message
    assert DEFAULT_SECRET_KEY not in message


def test_prod_refuses_a_short_secret_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "prod")
    monkeypatch.setenv("LOOM_SECRET_KEY", "tiny-secret")
    with pytest.raises(SettingsError, match="at least 32 characters") as caught:
        load_settings()
    assert "tiny-secret" not in str(caught.value)


def test_prod_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOM_ENV", "prod")
    monkeypatch.setenv("LOOM_SECRET_KEY", STRONG_SECRET)
    assert load_settings().secret_key.get_secret_value() == STRONG_SECRET


def test_dev_and_test_accept_the_default_secret() -> None:
    assert load_settings(env="dev").secret_key.get_secret_value() == DEFAULT_SECRET_KEY
    assert load_settings(env="test").secret_key.get_secret_value() == DEFAULT_SECRET_KEY


def test_masked_dump_hides_secrets_and_the_database_password() -> None:
    settings = Settings(
        env="prod",
        secret_key=STRONG_SECRET,  # type: ignore[arg-type]
        database_url="postgresql://loom:db-pass-123@db.internal:5432/loom",
        auth={"bootstrap_admin_password": "admin-pass-456"},  # type: ignore[arg-type]
    )
    dump = masked_dump(settings)
    text = repr(dump)
    assert dump["secret_key"] == "••••"
    assert dump["auth"]["bootstrap_admin_password"] == "••••"
    assert dump["database_url"] == "postgresql+asyncpg://loom:***@db.internal:5432/loom"
    assert STRONG_SECRET not in text and "db-pass-123" not in text and "admin-pass-456" not in text
    assert dump["server"]["port"] == 8080  # everything else as is


def test_masked_dump_shows_an_unset_secret_as_empty() -> None:
    assert masked_dump(Settings())["auth"]["bootstrap_admin_password"] is None


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("postgres://u:p@h:5432/loom", "postgresql+asyncpg://u:p@h:5432/loom"),
        ("postgresql://u:p@h/loom", "postgresql+asyncpg://u:p@h/loom"),
        ("POSTGRESQL://h/loom", "postgresql+asyncpg://h/loom"),
        ("postgresql+asyncpg://h/loom", "postgresql+asyncpg://h/loom"),
        ("sqlite:///./loom.db", "sqlite+aiosqlite:///./loom.db"),
        ("sqlite+aiosqlite:////abs/loom.db", "sqlite+aiosqlite:////abs/loom.db"),
    ],
)
def test_database_urls_are_normalised_to_the_async_drivers(given: str, normalised: str) -> None:
    assert Settings(database_url=given).database_url == normalised


@pytest.mark.parametrize(
    "url", ["mysql://u:secret-pw@h/loom", "loom.db", "postgresql+psycopg://h/x"]
)
def test_unsupported_database_urls_are_refused_without_their_password(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url=url)
    message = str(caught.value)
    assert "database_url (LOOM_DATABASE_URL)" in message
    assert "secret-pw" not in message
