"""The local checks behind `loom system diagnostics`: can this machine run Loom as
configured? Each check returns pass, warn, fail or skip with a one-line explanation."""

from __future__ import annotations

import asyncio
import errno
import shutil
import socket
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from loom.client import LoomClient, LoomClientError
from loom.settings import DEFAULT_SECRET_KEY, Settings, SettingsError, load_settings

MIB = 1024 * 1024
DISK_WARN_BELOW = 1024 * MIB
DISK_FAIL_BELOW = 100 * MIB
DB_TIMEOUT_SECONDS = 10.0
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def check_python(version: tuple[int, int, int] | None = None) -> Check:
    major, minor, micro = version or sys.version_info[:3]
    found = f"{major}.{minor}.{micro}"
    if (major, minor) >= (3, 11):
        return Check("python", Status.PASS, found)
    return Check("python", Status.FAIL, f"{found}: Loom needs Python 3.11 or newer")


def check_settings() -> tuple[Check, Settings | None]:
    try:
        settings = load_settings()
    except SettingsError as exc:
        return Check("settings", Status.FAIL, str(exc)), None
    return Check("settings", Status.PASS, f"valid (env={settings.env})"), settings


def check_secret_key(settings: Settings) -> Check:
    if settings.secret_key.get_secret_value() != DEFAULT_SECRET_KEY:
        return Check("secret key", Status.PASS, "a secret key of your own is set")
    if settings.env == "prod":
        return Check(
            "secret key", Status.FAIL, "the default secret key in prod: set LOOM_SECRET_KEY"
        )
    return Check(
        "secret key", Status.WARN, "the default secret key (fine for dev; set LOOM_SECRET_KEY)"
    )


def classify_free_space(free_bytes: int, where: str) -> Check:
    amount = f"{free_bytes / (1024 * MIB):.1f} GiB free in {where}"
    if free_bytes < DISK_FAIL_BELOW:
        return Check("disk space", Status.FAIL, f"{amount} (under 100 MiB)")
    if free_bytes < DISK_WARN_BELOW:
        return Check("disk space", Status.WARN, f"{amount} (under 1 GiB)")
    return Check("disk space", Status.PASS, amount)


def check_disk(directory: Path) -> Check:
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return Check("disk space", Status.FAIL, f"cannot measure {directory}: {exc.strerror}")
    return classify_free_space(free, str(directory))


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file the settings name (None for an in-memory database)."""
    database = make_url(settings.database_url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


# -- the database -------------------------------------------------------------------------


async def _migration_check(engine: AsyncEngine, settings: Settings) -> Check:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from loom.db.migrate import alembic_config, current_revision, head_revision

    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return Check("migrations", Status.PASS, f"at head {head}")
    fix = "`loom serve` migrates at start" if settings.database.auto_migrate else ""
    behind = Status.WARN if settings.database.auto_migrate else Status.FAIL
    if current is None:
        return Check("migrations", behind, f"not migrated: run `loom db upgrade` {fix}".strip())
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(current)
    except CommandError:
        return Check(
            "migrations", Status.FAIL, f"database at {current}, unknown to this Loom (newer?)"
        )
    return Check(
        "migrations", behind, f"database at {current}, code head {head}: run `loom db upgrade`"
    )


async def _postgres_data_dir(engine: AsyncEngine, settings: Settings) -> Path | None:
    """PostgreSQL's data directory when the server runs on this machine and says where."""
    if (make_url(settings.database_url).host or "") not in _LOCAL_HOSTS:
        return None
    try:
        async with engine.connect() as conn:
            value = await conn.scalar(text("SHOW data_directory"))
    except Exception:  # not allowed to read it: nothing to measure
        return None
    path = Path(str(value))
    return path if await asyncio.to_thread(path.is_dir) else None


async def _database_checks(settings: Settings) -> list[Check]:
    from loom.db.engine import create_engine

    engine = create_engine(settings)
    try:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error: unreachable
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return _unreachable(f"unreachable: {type(exc).__name__}: {reason}", settings)
        checks = [Check("database", Status.PASS, f"{engine.dialect.name} answers SELECT 1")]
        checks.append(await _migration_check(engine, settings))
        if not settings.is_sqlite:
            data_dir = await _postgres_data_dir(engine, settings)
            checks.append(
                check_disk(data_dir)
                if data_dir
                else Check("disk space", Status.SKIP, "PostgreSQL's disk is not on this machine")
            )
        return checks
    finally:
        await engine.dispose()


async def _with_timeout(settings: Settings) -> list[Check]:
    try:
        return await asyncio.wait_for(_database_checks(settings), DB_TIMEOUT_SECONDS)
    except TimeoutError:
        return _unreachable(f"no answer within {DB_TIMEOUT_SECONDS:.0f}s", settings)


def _unreachable(detail: str, settings: Settings) -> list[Check]:
    checks = [
        Check("database", Status.FAIL, detail),
        Check("migrations", Status.SKIP, "database unreachable"),
    ]
    if not settings.is_sqlite:  # SQLite's directory is measured by the caller
        checks.append(Check("disk space", Status.SKIP, "database unreachable"))
    return checks


def check_database(settings: Settings) -> list[Check]:
    """Reachability, migrations and free disk space of the configured database."""
    if not settings.is_sqlite:
        return asyncio.run(_with_timeout(settings))
    path = sqlite_path(settings)
    if path is None:
        return [Check("database", Status.WARN, "in-memory SQLite: nothing is kept")]
    directory = path.resolve().parent
    if not directory.is_dir():
        return [
            Check("database", Status.FAIL, f"directory {directory} does not exist"),
            Check("migrations", Status.SKIP, "no database"),
            Check("disk space", Status.SKIP, "no database directory"),
        ]
    if not path.exists():
        created = Status.WARN if settings.database.auto_migrate else Status.FAIL
        return [
            Check("database", Status.WARN, f"{path} does not exist yet (`loom serve` creates it)"),
            Check("migrations", created, "not migrated: run `loom db upgrade`"),
            check_disk(directory),
        ]
    return [*asyncio.run(_with_timeout(settings)), check_disk(directory)]


# -- the server port ----------------------------------------------------------------------


def _probe_host(host: str) -> str:
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
    target = wildcard.get(host, host)
    return f"[{target}]" if ":" in target else target


def _loom_version_at(url: str) -> str | None:
    try:
        with LoomClient(url, timeout=3.0) as client:
            if client.platform.health().status != "ok":
                return None
            return client.platform.version().version
    except LoomClientError:
        return None


def check_port(settings: Settings) -> Check:
    """Free, or held by a Loom (pass); held by something else (warn); unusable (fail)."""
    host, port = settings.server.host, settings.server.port
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return Check("server port", Status.FAIL, f"cannot resolve {host}: {exc.strerror}")
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            return Check("server port", Status.PASS, f"{where} is free")
        except PermissionError:
            return Check("server port", Status.FAIL, f"not allowed to listen on {where}")
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Check(
                    "server port", Status.FAIL, f"cannot listen on {where}: {exc.strerror}"
                )
    version = _loom_version_at(f"http://{_probe_host(host)}:{port}")
    if version is not None:
        return Check("server port", Status.PASS, f"{where} is in use by Loom {version} (running)")
    return Check("server port", Status.WARN, f"{where} is in use by something that is not Loom")


def run_all() -> list[Check]:
    checks = [check_python()]
    settings_check, settings = check_settings()
    checks.append(settings_check)
    if settings is None:
        skipped = ("database", "migrations", "disk space", "server port", "secret key")
        return [*checks, *(Check(name, Status.SKIP, "settings invalid") for name in skipped)]
    checks.extend(check_database(settings))
    checks.append(check_port(settings))
    checks.append(check_secret_key(settings))
    return checks
