"""`loom admin`: recovery commands that act on the local database directly, for whoever
runs the server (no API token needed, by design: they need the database's credentials)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from loom.cli.output import fail, info
from loom.errors import LoomError

admin_app = typer.Typer(
    help="Recovery on the server's own database (acts on LOOM_DATABASE_URL directly).",
    no_args_is_help=True,
)


@admin_app.command("set-password")
def set_password(
    email: Annotated[str, typer.Argument(help="The user's email")],
    org: Annotated[str | None, typer.Option(help="Organisation slug, if several share it")] = None,
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="New password"),
    ] = "",
) -> None:
    """Set a user's password (and re-enable the account): e.g. a lost admin password."""
    from loom.auth.service import set_password as set_user_password
    from loom.cli.serve import _settings
    from loom.db.engine import create_engine, create_sessionmaker

    settings = _settings()

    async def run() -> str:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                user = await set_user_password(session, org, email, password)
                return user.email
        finally:
            await engine.dispose()

    try:
        who = asyncio.run(run())
    except LoomError as exc:
        fail(exc.message)
    info(f"password set for {who}")
