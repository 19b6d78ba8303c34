"""The `loom` command's entry point: registers each domain's command group."""

from __future__ import annotations

import typer

from loom.cli.serve import db_app, serve

app = typer.Typer(
    name="loom",
    help="Loom: self-service provisioning, service registry and incident operations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve)
app.add_typer(db_app, name="db")

if __name__ == "__main__":
    app()
