"""`loom request escalate|complete`: hand a failed request's remaining work to people as
JIRA tickets, and complete it once they did it (registered on `loom request` by
cli/main.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit
from loom.client.requests import RequestDetail

_RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request's id")]
_Comment = Annotated[
    str, typer.Option("--comment", "-m", help="What was done (shown in the request's log)")
]
_Key = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Repeat a call safely: a repeat replays the first"),
]


def escalate(
    request_id: _RequestId, key: _Key = None, output: OutputOption = OutputFormat.table
) -> None:
    """Turn a failed (or stuck) request's failed task and every task after it into
    chained JIRA tickets for people to do by hand (operators)."""
    with connect() as client:
        request = client.requests.escalate(request_id, idempotency_key=key)
    if output is OutputFormat.json:
        emit(request.model_dump(mode="json"), output)
        return
    _print(request, "escalated")
    rows = [
        {"task": t.position + 1, "action": t.action_id, "ticket": t.external_refs.get("jira"),
         "url": t.external_refs.get("url")}
        for t in request.tasks if t.state == "escalated"
    ]  # fmt: skip
    emit(rows, output, ["task", "action", "ticket", "url"], title="tickets")


def complete(
    request_id: _RequestId, comment: _Comment = "", output: OutputOption = OutputFormat.table
) -> None:
    """Complete an escalated request whose tickets were done by hand (operators)."""
    with connect() as client:
        request = client.requests.complete(request_id, comment)
    if output is OutputFormat.json:
        emit(request.model_dump(mode="json"), output)
        return
    _print(request, "completed")


def _print(request: RequestDetail, verb: str) -> None:
    console.print(f"request {request.id} {verb}: {request.state}, {request.progress}",
                  soft_wrap=True, highlight=False)  # fmt: skip
