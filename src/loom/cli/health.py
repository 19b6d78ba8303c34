"""`loom health`: is the server ready, and which version is it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit


def health(
    url: Annotated[
        str | None, typer.Option(help="Loom's address (default: LOOM_URL, else the stored one)")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show the server's readiness checks and version; exit 1 when it is not ready."""
    with connect(url=url, authenticated=False) as client:
        readiness = client.platform.ready()
        version = client.platform.version()
        base = client.base_url
    data: dict[str, Any] = {
        "url": base,
        "ready": readiness.ready,
        "status": readiness.status,
        "checks": {name: c.model_dump(mode="json") for name, c in readiness.checks.items()},
        "version": version.model_dump(mode="json"),
    }
    if output is OutputFormat.json:
        emit(data, output)
    else:
        state = "[green]ready[/green]" if readiness.ready else "[red]NOT READY[/red]"
        console.print(
            f"Loom {version.version} at {base}: {state} "
            f"(python {version.python}, database {version.database})",
            soft_wrap=True,
        )
        rows = [
            {"check": name, "ok": "yes" if c.ok else "NO", "detail": c.detail}
            for name, c in readiness.checks.items()
        ]
        emit(rows, output, ["check", "ok", "detail"])
    if not readiness.ready:
        raise typer.Exit(1)
