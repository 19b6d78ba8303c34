"""How commands reach the API: a `LoomClient` built from the effective credentials, with
every client error turned into one line on stderr and exit code 1 (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from loom.cli import credentials
from loom.cli.output import fail
from loom.client import ApiError, ConnectionFailed, LoomClient, LoomClientError

NOT_LOGGED_IN = (
    "not logged in to {url}: run `loom login` (or set LOOM_TOKEN, and LOOM_URL for another server)"
)


def describe(exc: LoomClientError) -> str:
    """The one-line message printed for a client error."""
    if isinstance(exc, ApiError):
        line = f"{exc.message} ({exc.code}, correlation id {exc.correlation_id or 'none'})"
        extra = [f"{d.field}: {d.issue}" for d in exc.details]
        missing = [e for e in extra if e not in exc.message]
        return "\n  ".join([line, *missing])
    if isinstance(exc, ConnectionFailed):
        return f"cannot reach Loom at {exc.url} ({exc.reason}); is `loom serve` running there?"
    return str(exc)


@contextmanager
def api_errors() -> Iterator[None]:
    """Report any client error raised inside the block and exit 1."""
    try:
        yield
    except LoomClientError as exc:
        fail(describe(exc))


@contextmanager
def connect(*, url: str | None = None, authenticated: bool = True) -> Iterator[LoomClient]:
    """A client for the effective server; exits 1 when a token is needed and none is set."""
    try:
        creds = credentials.effective(url)
    except credentials.CredentialsError as exc:
        fail(str(exc))
    if authenticated and not creds.token:
        fail(NOT_LOGGED_IN.format(url=creds.url))
    with api_errors(), LoomClient(creds.url, creds.token) as client:
        yield client
