"""`loom token create|list|revoke`: the caller's own API tokens."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, emit_record, info, warn
from loom.client.identity import Scope

token_app = typer.Typer(help="Your API tokens.", no_args_is_help=True)


class ScopeName(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


COLUMNS = ["id", "name", "scopes", "created_at", "expires_at", "last_used_at"]


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci-deploy")],
    scope: Annotated[
        list[ScopeName] | None,
        typer.Option("--scope", "-s", help="Repeat for several (default: read and write)"),
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option(help="Lifetime in days (default: no expiry)", min=1)
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Create a token and print its secret, which is shown this once only."""
    chosen = scope or [ScopeName.read, ScopeName.write]
    scopes: list[Scope] = [s.value for s in chosen]
    with connect() as client:
        created = client.identity.create_token(name, scopes, expires_in_days=expires_in_days)
    warn("copy the token now: it is not shown again")
    if output is OutputFormat.json:
        emit_record(created.model_dump(mode="json"), output)
        return
    emit_record(created.model_dump(mode="json"), output, COLUMNS)
    console.print(f"token: {created.token}", soft_wrap=True, highlight=False, markup=False)


@token_app.command("list")
def list_(output: OutputOption = OutputFormat.table) -> None:
    """List your tokens, newest first (revoked ones included, marked)."""
    with connect() as client:
        tokens = client.identity.list_tokens()
    data = [t.model_dump(mode="json") for t in tokens]
    emit(data, output, [*COLUMNS, "revoked_at"])


@token_app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id")]) -> None:
    """Revoke a token: it stops working at once."""
    with connect() as client:
        client.identity.revoke_token(token_id)
    info(f"revoked token {token_id}")
