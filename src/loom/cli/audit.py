"""`loom audit list` and `loom audit verify`: read the audit log, check its hash chain."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, fail, info
from loom.client.audit import AuditFilter

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)

COLUMNS = ["seq", "created_at", "actor_name", "action", "target_type", "target_id"]
_Filter = Annotated[str | None, typer.Option(show_default=False)]


@audit_app.command("list")
def list_(
    actor_id: _Filter = None,
    action: Annotated[str | None, typer.Option(help="e.g. token.create")] = None,
    target_type: _Filter = None,
    target_id: _Filter = None,
    team_id: _Filter = None,
    correlation_id: _Filter = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601, inclusive")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601, exclusive")] = None,
    limit: Annotated[int, typer.Option(help="Entries per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List audit entries, newest first."""
    raw: dict[str, Any] = {
        "actor_id": actor_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "team_id": team_id,
        "correlation_id": correlation_id,
        "since": since,
        "until": until,
    }
    where = _filter(raw)
    with connect() as client:
        if all_pages:
            items = list(client.audit.iter(where, page_size=limit))
            next_cursor = None
        else:
            page = client.audit.list(where, limit=limit, cursor=cursor)
            items, next_cursor = page.items, page.next_cursor
    data = [e.model_dump(mode="json") for e in items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": next_cursor}, output)
        return
    emit(data, output, COLUMNS)
    if next_cursor:
        info(f"more entries: --cursor {next_cursor}")


def _filter(raw: dict[str, Any]) -> AuditFilter:
    try:
        return AuditFilter(**raw)
    except ValidationError as exc:
        problems = [f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}" for e in exc.errors()]
        fail("; ".join(problems))


@audit_app.command("verify")
def verify(output: OutputOption = OutputFormat.table) -> None:
    """Check the organisation's audit hash chain; exit 1 when it is broken."""
    with connect() as client:
        result = client.audit.verify()
    if output is OutputFormat.json:
        emit(result.model_dump(mode="json"), output)
    elif result.ok:
        console.print(f"[green]audit chain ok[/green]: {result.checked} entries checked")
    else:
        console.print(
            f"[red]audit chain BROKEN[/red]: {len(result.problems)} problem(s) "
            f"in {result.checked} entries"
        )
        emit([p.model_dump(mode="json") for p in result.problems], output, ["seq", "problem"])
    if not result.ok:
        raise typer.Exit(1)
