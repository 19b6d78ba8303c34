"""Typed settings: every knob Loom has, read once from LOOM_* variables and loom.toml.

Precedence, strongest first: keyword arguments (tests), environment variables
(``LOOM_DATABASE_URL``, nested groups with ``__``: ``LOOM_SERVER__PORT``), the TOML file
named by ``LOOM_CONFIG`` (else ``./loom.toml`` if present), then defaults. Every default
works for the embedded mode; outside ``env = "dev"``/``"test"`` Loom refuses to start
with the default secret key. Unknown keys are refused; every error names the setting and
its variable (``server.port (LOOM_SERVER__PORT): ...``) and never echoes a secret.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from loom.integrations.settings import IntegrationSettings

DEFAULT_SECRET_KEY = "loom-dev-secret-change-me"  # noqa: S105 - refused outside dev/test


class _Group(BaseModel):
    """A group of settings (`[server]` in loom.toml, `LOOM_SERVER__*` variables); a
    misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Group):
    """The HTTP listener of `loom serve`."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    graceful_timeout_seconds: int = Field(default=20, ge=0)
    public_url: str = ""


class AuthSettings(_Group):
    """The first organisation and admin, sessions and API tokens."""

    bootstrap_admin_email: str = "admin@loom.local"
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_org: str = "default"
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    token_default_ttl_days: int = Field(default=90, ge=1)
    cookie_secure: bool = False


class LogSettings(_Group):
    """Structured logs on stderr: JSON lines, or readable lines for a terminal."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    json_output: bool = True


class TelemetrySettings(_Group):
    """Traces (exported only when `otlp_endpoint` is set) and the /metrics endpoint."""

    service_name: str = "loom"
    otlp_endpoint: str = ""
    metrics_public: bool = False


class SchedulerSettings(_Group):
    """Periodic jobs; each tick is leased so that one replica runs it (see
    loom.platform.scheduler)."""

    enabled: bool = True


class WorkerSettings(_Group):
    """The worker pool; `heartbeat_seconds` also paces every background heartbeat."""

    enabled: bool = True
    concurrency: int = Field(default=4, ge=1, le=256)
    heartbeat_seconds: int = Field(default=10, ge=1)
    visibility_timeout_seconds: float = Field(default=60, gt=0)
    task_timeout_seconds: float = Field(default=300, gt=0)
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    #: How often the leased periodic check looks at waiting tasks that are due.
    wait_check_seconds: float = Field(default=10, gt=0)


class DatabaseSettings(_Group):
    """Engine options; the URL itself is the top-level `database_url`."""

    pool_size: int = Field(default=10, ge=1)
    echo: bool = False
    auto_migrate: bool = True


class CatalogSettings(_Group):
    """Where the catalog repository is and how Loom keeps up with it."""

    source: str = Field(
        default="", description="A local directory, or a git URL (https://, ssh://, git@...)"
    )
    branch: str = "main"
    cache_dir: str = ".loom/catalog"
    org: str = Field(default="", description="Organisation slug it serves (default: the first)")
    sync_on_start: bool = True
    sync_interval_seconds: int = Field(default=0, ge=0, description="0: no periodic sync")
    webhook_secret: SecretStr | None = None
    git_timeout_seconds: int = Field(default=120, ge=1)


ReadinessLevel = Literal["bronze", "silver", "gold"]


def _required_levels() -> dict[str, ReadinessLevel]:
    return {"dev": "bronze", "staging": "bronze", "production": "silver"}


class ScorecardSettings(_Group):
    """The readiness level (bronze, silver, gold) a service needs to go to each environment."""

    required_levels: dict[str, ReadinessLevel] = Field(default_factory=_required_levels)


class ServicesSettings(_Group):
    """The service registry."""

    #: How long an environment may run another version than the one before it (by rank)
    #: before the version matrix calls it drift; an environment may set its own.
    drift_threshold_hours: int = Field(default=72, ge=1, le=24 * 365)


GroupingStrategy = Literal["same_service", "topology", "label"]


def _service_labels() -> list[str]:
    return ["service", "app", "app_kubernetes_io_name", "job", "container", "namespace"]


def _grouping_labels() -> list[str]:
    return ["host", "instance", "node", "pod", "deployment", "cluster"]


class IncidentSettings(_Group):
    """Alert ingestion and grouping into incidents (loom.incidents)."""

    #: Labels that name the service, tried in order; a value is the service's slug unless
    #: `service_aliases` maps it to one.
    service_labels: list[str] = Field(default_factory=_service_labels)
    service_aliases: dict[str, str] = Field(default_factory=dict)
    #: An alert joins an incident only within this long of the incident's last alert,
    #: and only with the same service, a graph neighbour, or a shared grouping label.
    grouping_window_minutes: float = Field(default=5, gt=0, le=24 * 60)
    grouping_strategies: list[GroupingStrategy] = Field(
        default_factory=lambda: list(get_args(GroupingStrategy))
    )
    topology_hops: int = Field(default=2, ge=1, le=10)
    grouping_labels: list[str] = Field(default_factory=_grouping_labels)
    #: An incident whose alerts all resolved resolves itself after this long.
    resolve_grace_minutes: float = Field(default=5, ge=0, le=24 * 60)
    #: Changes this long before an incident's first alert are candidates for its cause.
    change_window_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    max_batch_alerts: int = Field(default=1000, ge=1, le=100_000)


class NotifySettings(_Group):
    """Delivery of notifications (loom.notify): consumers of the `notifications` queue,
    run wherever workers run, and the retries of a failing channel."""

    concurrency: int = Field(default=8, ge=1, le=256)
    poll_interval_seconds: float = Field(default=0.2, gt=0)
    #: Attempts of one notification before it is dead (a person looks at it).
    max_attempts: int = Field(default=6, ge=1, le=50)
    #: Waits between attempts: base * 2^(attempt-1), at most the cap (or longer when
    #: the remote asks for it with Retry-After, up to the cap).
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_cap_seconds: float = Field(default=300.0, gt=0)
    #: Alerts joining an incident already notified: at most one update per channel in
    #: this many seconds (loom.notify.consolidation).
    consolidate_seconds: float = Field(default=120.0, ge=1, le=900)


class SqsQueueUrls(_Group):
    """The SQS FIFO queue behind one named Loom queue, and its dead-letter queue (a FIFO
    queue named in the main queue's redrive policy, maxReceiveCount 3)."""

    url: str
    dlq_url: str


class QueueSettings(_Group):
    """The FIFO queue the workers consume: `sql` (tables in Loom's database) or `sqs`
    (AWS SQS FIFO, needs the `sqs` extra and one URL pair per named queue)."""

    backend: Literal["sql", "sqs"] = "sql"
    names: list[str] = Field(
        default_factory=lambda: ["tasks"], description="Named queues the API shows"
    )
    sqs_region: str = ""
    sqs_endpoint_url: str = Field(default="", description="Only for SQS-compatible servers")
    sqs_queues: dict[str, SqsQueueUrls] = Field(
        default_factory=dict, description="Queue name → its SQS queue and DLQ URLs"
    )


class HttpSettings(_Group):
    """Outgoing HTTP calls to integrations (loom.platform.http): timeouts that are always
    set, the circuit breaker kept per integration and host, and limits on what actions
    may send and read. Which hosts may be called at all is the top-level `allowed_hosts`."""

    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Read, write and pool timeout of every call"
    )
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_response_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures (5xx, timeouts) that open a circuit"
    )
    breaker_cooldown_seconds: float = Field(
        default=60.0, gt=0, description="How long an open circuit refuses calls before a trial"
    )
    user_agent: str = "loom/0.1"
    header_env_prefix: str = Field(
        default="LOOM_ACTION_",
        min_length=1,
        description="Only environment variables with this prefix may be used in "
        "action headers as ${env:NAME}",
    )


class HealthCheckSettings(_Group):
    """Endpoint health checks of the service registry (loom.services.checks): how often
    the scheduler looks for due checks, how many run at once per process, how long
    results are kept, and the demo's local target."""

    tick_seconds: float = Field(default=5.0, gt=0, le=300)
    concurrency: int = Field(default=50, ge=1, le=1000)
    batch_size: int = Field(default=200, ge=1, le=5000)
    retention_days: int = Field(default=30, ge=1)
    demo_target_port: int = Field(
        default=8099, ge=0, le=65535, description="Port of the demo's check target (0: any)"
    )


def _config_file() -> Path | None:
    explicit = os.environ.get("LOOM_CONFIG")
    if explicit:
        return Path(explicit)
    default = Path("loom.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    """Everything Loom reads from its environment, validated once at start."""

    model_config = SettingsConfigDict(
        env_prefix="LOOM_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./loom.db"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    demo_data: bool = False
    #: What templates see as `.system.platform.region` / `.environment`.
    region: str = "local"
    environment: str = "development"
    allowed_hosts: list[str] = Field(default_factory=list)

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    log: LogSettings = LogSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    workers: WorkerSettings = WorkerSettings()
    database: DatabaseSettings = DatabaseSettings()
    catalog: CatalogSettings = CatalogSettings()
    scorecards: ScorecardSettings = ScorecardSettings()
    services: ServicesSettings = ServicesSettings()
    http: HttpSettings = HttpSettings()
    queue: QueueSettings = QueueSettings()
    integrations: IntegrationSettings = IntegrationSettings()
    health_checks: HealthCheckSettings = HealthCheckSettings()
    incidents: IncidentSettings = IncidentSettings()
    notify: NotifySettings = NotifySettings()

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        """Accept the usual URL spellings and pin the async driver Loom uses."""
        scheme, sep, rest = value.partition("://")
        scheme = scheme.lower()
        if not sep:
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
            return "postgresql+asyncpg://" + rest
        if scheme in ("sqlite", "sqlite+aiosqlite"):
            return "sqlite+aiosqlite://" + rest
        raise ValueError(f"unsupported database {scheme!r}: use sqlite:/// or postgresql://")

    @field_validator("secret_key")
    @classmethod
    def _no_default_secret_in_prod(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("env") == "prod":
            secret = value.get_secret_value()
            if secret == DEFAULT_SECRET_KEY:
                raise ValueError("the default secret key is refused when env=prod")
            if len(secret) < 32:
                raise ValueError("must be at least 32 characters when env=prod")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class SettingsError(Exception):
    """Settings failed validation; the message names every bad setting."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the setting, its environment variable and the input."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        path = ".".join(loc) or "settings"
        env_name = "LOOM_" + "__".join(loc).upper() if loc else "LOOM_*"
        message = err["msg"].removeprefix("Value error, ")
        line = f"{path} ({env_name}): {message}"
        shown = _shown_input(loc, err.get("input"))
        if shown is not None:
            line += f" (got {shown})"
        lines.append(line)
    return "invalid settings:\n  " + "\n  ".join(lines)


def _shown_input(loc: list[str], value: Any) -> str | None:
    """The offending value, quoted, unless it may hold a secret or is not a plain value."""
    if not loc or not isinstance(value, str | int | float | bool):
        return None
    if loc[-1] == "database_url":
        return repr(_mask_url_password(str(value)))
    if any(word in loc[-1] for word in ("secret", "password", "token", "key")):
        return None
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation failure into one readable SettingsError."""
    path = _config_file()
    if path is not None and not path.is_file():
        raise SettingsError(f"LOOM_CONFIG: no such file {path}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
    except ValueError as exc:  # a malformed TOML file, or an env var that is not valid JSON
        where = f"{path}: " if path is not None else ""
        raise SettingsError(f"invalid settings: {where}{exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once on first use (never at import)."""
    return load_settings()


def masked_dump(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret shown as '••••'."""
    data = settings.model_dump(mode="json")

    def mask(model: BaseModel, out: dict[str, Any]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                out[name] = "••••" if value.get_secret_value() else ""
            elif isinstance(value, BaseModel):
                mask(value, out[name])
        if "database_url" in out:
            out["database_url"] = _mask_url_password(out["database_url"])

    mask(settings, data)
    return data


def _mask_url_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: hide whatever follows "//"
        scheme, sep, _rest = url.partition("://")
        return f"{scheme}://***" if sep else "***"
