"""The `loom` command's entry point: registers each domain's command group."""

from __future__ import annotations

import typer

from loom.cli.admin import admin_app
from loom.cli.alerts import alert_app, silence_app
from loom.cli.audit import audit_app
from loom.cli.auth import login, logout, whoami
from loom.cli.catalog import catalog_app
from loom.cli.catalog_validate import validate as validate_catalog
from loom.cli.catalog_variables import test_variables
from loom.cli.changes import change_app
from loom.cli.config import config_app
from loom.cli.health import health
from loom.cli.incidents import incident_app
from loom.cli.notify import notify_app
from loom.cli.notify_contacts import contacts_app
from loom.cli.notify_maintenance import maintenance_app, snooze
from loom.cli.notify_rules import policies_app, rules_app
from loom.cli.oncall import oncall_app, overrides_app, schedules_app
from loom.cli.queue import queue_app
from loom.cli.request_approvals import approvals, approve, reject
from loom.cli.request_escalation import complete, escalate
from loom.cli.requests import request_app
from loom.cli.serve import db_app, serve, worker
from loom.cli.service_status import check, drift, scorecard, service_health, versions
from loom.cli.services import service_app
from loom.cli.system import system_app
from loom.cli.tokens import token_app

app = typer.Typer(
    name="loom",
    help="Loom: self-service provisioning, service registry and incident operations.",
    epilog=(
        "API commands use the server and token stored by `loom login` (in the user config "
        "directory; LOOM_CLI_CONFIG_DIR moves it). LOOM_URL and LOOM_TOKEN override them; "
        "the stored token is only sent to the URL it was stored for."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(serve)
app.command()(worker)
app.add_typer(db_app, name="db")
app.command()(login)
app.command()(logout)
app.command()(whoami)
app.command()(health)
app.add_typer(config_app, name="config")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
catalog_app.command("validate")(validate_catalog)
catalog_app.command("test-variables")(test_variables)
app.add_typer(catalog_app, name="catalog")
request_app.command("approve")(approve)
request_app.command("reject")(reject)
request_app.command("approvals")(approvals)
request_app.command("escalate")(escalate)
request_app.command("complete")(complete)
app.add_typer(request_app, name="request")
service_app.command("versions")(versions)
service_app.command("drift")(drift)
service_app.command("check")(check)
service_app.command("health")(service_health)
service_app.command("scorecard")(scorecard)
app.add_typer(service_app, name="service")
app.add_typer(incident_app, name="incident")
app.add_typer(change_app, name="change")
app.add_typer(queue_app, name="queue")
app.add_typer(system_app, name="system")
app.add_typer(admin_app, name="admin")
app.add_typer(alert_app, name="alert")
app.add_typer(silence_app, name="silence")
notify_app.add_typer(rules_app, name="rules")
notify_app.add_typer(policies_app, name="policies")
notify_app.add_typer(maintenance_app, name="maintenance")
notify_app.add_typer(contacts_app, name="contacts")
notify_app.command("snooze")(snooze)
app.add_typer(notify_app, name="notify")
oncall_app.add_typer(schedules_app, name="schedules")
oncall_app.add_typer(overrides_app, name="overrides")
app.add_typer(oncall_app, name="oncall")

if __name__ == "__main__":
    app()
