"""`loom request approve|reject|approvals`: decide the approvals requests wait for, and
list those awaiting you (registered on `loom request` by cli/main.py)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, info, readable
from loom.client.requests import RequestDetail

COLUMNS = ["request_id", "item", "requester", "waiting_for", "approvals", "created_at",
           "deadline_at"]  # fmt: skip

_RequestId = Annotated[str, typer.Argument(metavar="ID", help="The request's id")]
_Comment = Annotated[str, typer.Option("--comment", "-m", help="Why (shown in the request's log)")]


def approve(
    request_id: _RequestId, comment: _Comment = "", output: OutputOption = OutputFormat.table
) -> None:
    """Approve the approval a request waits for (its approvers; never your own request)."""
    with connect() as client:
        request = client.requests.approve(request_id, comment)
    _print(request, output, "approved")


def reject(
    request_id: _RequestId, comment: _Comment = "", output: OutputOption = OutputFormat.table
) -> None:
    """Reject the approval a request waits for: the request fails with your comment."""
    with connect() as client:
        request = client.requests.reject(request_id, comment)
    _print(request, output, "rejected")


def approvals(
    all_open: Annotated[
        bool, typer.Option("--all", help="Every open approval you can see, not only yours")
    ] = False,
    limit: Annotated[int, typer.Option(help="Approvals per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List the approvals awaiting your decision, newest first (--all: every open one)."""
    with connect() as client:
        page = client.requests.approvals(mine=not all_open, limit=limit, cursor=cursor)
    data = [a.model_dump(mode="json") for a in page.items]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": page.next_cursor}, output)
        return
    rows: list[dict[str, Any]] = [
        {**row, "approvals": f"{row['approvals']} of {row['required']}",
         "inputs": readable(row["inputs"])}
        for row in data
    ]  # fmt: skip
    emit(rows, output, COLUMNS)
    if page.next_cursor:
        info(f"more approvals: --cursor {page.next_cursor}")


def _print(request: RequestDetail, output: OutputFormat, verb: str) -> None:
    if output is OutputFormat.json:
        emit(request.model_dump(mode="json"), output)
        return
    console.print(
        f"request {request.id} {verb}: {request.state}, {request.progress}",
        soft_wrap=True,
        highlight=False,
    )
    if request.error:
        typer.echo(f"error: {request.error}")
