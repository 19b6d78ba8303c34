"""`loom login`, `loom logout` and `loom whoami`: getting, dropping and showing the
credentials every other API command uses."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from loom.cli import credentials
from loom.cli.connect import api_errors, connect
from loom.cli.output import OutputFormat, OutputOption, emit_record, fail, info, warn
from loom.client import LoomClient, LoomClientError
from loom.client.identity import Me, Scope

CLI_TOKEN_DAYS = 90
_ADMIN_ROLES = frozenset({"admin", "owner"})


def login(
    url: Annotated[
        str | None,
        typer.Option(help=f"Loom's address (default: LOOM_URL, else {credentials.DEFAULT_URL})"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="An existing API token to verify and store")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Log in with your email and password (prompted)")
    ] = None,
    expires_in_days: Annotated[
        int, typer.Option(help="Lifetime of the token minted by a password login", min=1)
    ] = CLI_TOKEN_DAYS,
) -> None:
    """Log in and store the credentials (mode 0600) for the other commands.

    With --token, the token is checked with the server and stored. Otherwise your password
    is asked for (hidden) and exchanged for a new API token named cli@<hostname>.
    """
    if token and email:
        fail("give --token or --email, not both")
    try:
        base = credentials.check_url(url or _default_url())
    except credentials.CredentialsError as exc:
        fail(str(exc))
    with api_errors():
        if token:
            me = _verify(base, token)
            saved = credentials.Credentials(url=base, token=token, email=me.email)
        else:
            address = email or typer.prompt("Email")
            password = typer.prompt("Password", hide_input=True)
            saved = _password_login(base, address, password, expires_in_days)
            me = _verify(base, saved.token or "")
    _revoke_previous(keep=saved.token)
    path = credentials.store(saved)
    info(f"logged in to {base} as {me.email} ({me.org_role}); credentials in {path}")


def _default_url() -> str:
    try:
        return credentials.effective().url
    except credentials.CredentialsError:  # a broken file is about to be replaced
        return credentials.DEFAULT_URL


def _verify(base: str, token: str) -> Me:
    with LoomClient(base, token) as client:
        return client.identity.me()


def _password_login(
    base: str, email: str, password: str, expires_in_days: int
) -> credentials.Credentials:
    """Log in with the password (session cookie), mint a CLI token, end the session."""
    with LoomClient(base) as client:
        client.identity.login(email, password)
        me = client.identity.me()
        scopes: list[Scope] = ["read", "write"]
        if me.org_role in _ADMIN_ROLES:
            scopes.append("admin")
        created = client.identity.create_token(
            f"cli@{socket.gethostname()}", scopes, expires_in_days=expires_in_days
        )
        client.identity.logout()
    return credentials.Credentials(
        url=base, token=created.token, email=me.email, token_id=str(created.id)
    )


def _revoke_previous(keep: str | None = None) -> None:
    """Revoke the stored token if `loom login` minted it (best effort), unless it is `keep`."""
    try:
        old = credentials.load_stored()
    except credentials.CredentialsError:
        return
    if old is None or not old.token_id or not old.token or old.token == keep:
        return
    try:
        with LoomClient(old.url, old.token) as client:
            client.identity.revoke_token(old.token_id)
    except LoomClientError as exc:
        warn(f"could not revoke the previous CLI token at {old.url}: {exc}")


def logout() -> None:
    """Forget the stored credentials (and revoke the token `loom login` minted)."""
    _revoke_previous()
    if credentials.remove():
        info("logged out: stored credentials removed")
    else:
        info("not logged in: no stored credentials")


def whoami(output: OutputOption = OutputFormat.table) -> None:
    """Who the effective credentials authenticate as."""
    with connect() as client:
        me = client.identity.me()
    data = me.model_dump(mode="json")
    columns = ["email", "name", "org_role", "scopes", "via", "user_id", "org_id"]
    emit_record(data, output, columns)
