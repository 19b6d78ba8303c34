"""`loom notify contacts list|add|remove`: contact methods, how a person is paged by an
escalation (an e-mail through an e-mail channel, a Slack DM through a Slack channel in
bot mode). Your own; an organisation admin's `--user` names anyone's."""

from __future__ import annotations

from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, emit, emit_record, info

contacts_app = typer.Typer(
    help="Contact methods: how escalations page a person (e-mail, Slack DM).",
    no_args_is_help=True,
)

COLUMNS = ["id", "position", "kind", "address", "channel", "user"]
FIELDS = ["id", "user", "kind", "address", "channel", "position", "created_at"]
UserOption = Annotated[
    str | None,
    typer.Option("--user", "-u", help="Whose, by e-mail (organisation admins; default: yours)"),
]


@contacts_app.command("list")
def list_contacts(user: UserOption = None, output: OutputOption = OutputFormat.table) -> None:
    """Your contact methods (or --user's), in the order they are paged."""
    with connect() as client:
        found = client.notify.contact_methods(user=user)
    data = [m.model_dump(mode="json") for m in found]
    if output is OutputFormat.json:
        emit({"items": data}, output)
        return
    emit(data, output, COLUMNS)


@contacts_app.command("add")
def add_contact(
    kind: Annotated[str, typer.Option("--kind", "-k", help="email | slack")],
    address: Annotated[
        str, typer.Option("--address", "-a", help="An e-mail address, or a Slack member id (U0123)")
    ],
    channel: Annotated[
        str,
        typer.Option(
            "--channel", "-c", help="The channel that carries it: e-mail, or Slack in bot mode"
        ),
    ],
    user: UserOption = None,
    position: Annotated[
        int | None, typer.Option(help="Paged in this order (lowest first)", min=0, max=1000)
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add a contact method, e.g. --kind slack --address U0123ABC --channel slack-bot."""
    with connect() as client:
        made = client.notify.create_contact_method(
            kind, address, channel, user=user, position=position
        )
    emit_record(made.model_dump(mode="json"), output, FIELDS)


@contacts_app.command("remove")
def remove_contact(
    method_id: Annotated[
        str, typer.Argument(metavar="ID", help="The contact method's id (see `contacts list`)")
    ],
) -> None:
    """Remove a contact method."""
    with connect() as client:
        client.notify.delete_contact_method(method_id)
    info(f"contact method {method_id} removed")
