"""`loom system diagnostics`: the local checks as a pass/warn/fail table."""

from __future__ import annotations

from collections import Counter

import typer
from rich.markup import escape
from rich.table import Table

from loom.cli.diagnostics import Status, run_all
from loom.cli.output import OutputFormat, OutputOption, console, emit

system_app = typer.Typer(help="This machine's readiness to run Loom.", no_args_is_help=True)

_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


@system_app.command("diagnostics")
def diagnostics(output: OutputOption = OutputFormat.table) -> None:
    """Check Python, settings, database, migrations, disk, port and secret key locally;
    exit 1 if any check fails."""
    checks = run_all()
    failed = any(c.status is Status.FAIL for c in checks)
    if output is OutputFormat.json:
        rows = [{"name": c.name, "status": c.status.value, "detail": c.detail} for c in checks]
        emit({"ok": not failed, "checks": rows}, output)
    else:
        table = Table(title="Loom diagnostics")
        for column in ("check", "status", "detail"):
            table.add_column(column)
        for c in checks:
            style = _STYLE[c.status]
            table.add_row(c.name, f"[{style}]{c.status.value}[/{style}]", escape(c.detail))
        console.print(table)
        counts = Counter(c.status for c in checks)
        console.print(
            f"{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, "
            f"{counts[Status.FAIL]} failed"
        )
    if failed:
        raise typer.Exit(1)
