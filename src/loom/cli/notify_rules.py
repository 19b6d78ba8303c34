"""`loom notify rules`: which incident events notify which channels (or start which
escalation policy), in the order rules are tried; `loom notify policies`: escalation
policies, levels of channels one after the other until someone acknowledges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from loom.cli.connect import connect
from loom.cli.form_values import read_values
from loom.cli.notify_common import exists
from loom.cli.output import OutputFormat, OutputOption, console, emit, emit_record, info
from loom.cli.service_views import table
from loom.client.notify import Policy, PolicyLevel, Rule

rules_app = typer.Typer(
    help="Rules: which incident events notify which channels.", no_args_is_help=True
)
policies_app = typer.Typer(
    help="Escalation policies: levels of channels until someone acknowledges.",
    no_args_is_help=True,
)

RULE_COLUMNS = ["position", "name", "team", "events", "when", "channels", "policy", "stop",
                "enabled"]  # fmt: skip
RULE_FIELDS = ["id", "name", "team", "position", "events", "severities", "services",
               "environments", "channels", "policy", "stop", "enabled", "max_per_hour",
               "created_by", "created_at"]  # fmt: skip
POLICY_FIELDS = ["id", "name", "team", "repeat", "created_by", "created_at"]
_CONDITIONS = ("severities", "services", "environments")
_EVENT_PREFIX = "incident."

RuleRef = Annotated[str, typer.Argument(metavar="RULE", help="The rule's name or id")]
PolicyRef = Annotated[str, typer.Argument(metavar="POLICY", help="The policy's name or id")]


def _when(rule: Rule) -> str:
    """A rule's conditions in one cell, those of a newer server (labels, times) too."""
    data = rule.model_dump(mode="json")
    parts = [f"{name}={','.join(data[name])}" for name in _CONDITIONS if data[name]]
    parts += [f"{k}={v}" for k, v in (rule.model_extra or {}).items() if v not in (None, [], {})]
    return "; ".join(parts) or "always"


def _rule_row(rule: Rule) -> dict[str, Any]:
    return {**rule.model_dump(mode="json"), "when": _when(rule),
            "events": [e.removeprefix(_EVENT_PREFIX) for e in rule.events]}  # fmt: skip


def _event(name: str) -> str:
    """`opened` is short for `incident.opened`."""
    return name if "." in name else _EVENT_PREFIX + name


@rules_app.command("list")
def list_rules(
    limit: Annotated[int, typer.Option(help="Rules per page", min=1, max=500)] = 100,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """The rules you see, in the order they are tried."""
    with connect() as client:
        page = client.notify.rules(limit=limit, cursor=cursor)
    if output is OutputFormat.json:
        items = [r.model_dump(mode="json") for r in page.items]
        emit({"items": items, "next_cursor": page.next_cursor}, output)
        return
    emit([_rule_row(r) for r in page.items], output, RULE_COLUMNS)
    if page.next_cursor:
        info(f"more rules: --cursor {page.next_cursor}")


@rules_app.command("add")
def add_rule(
    name: Annotated[str | None, typer.Argument(help="A name, e.g. critical-pages")] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="opened, acknowledged, resolved, reopened (repeat)"),
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="A channel to notify (repeat)")
    ] = None,
    policy: Annotated[str | None, typer.Option(help="An escalation policy to start")] = None,
    severity: Annotated[
        list[str] | None, typer.Option(help="critical, warning or info (repeat)")
    ] = None,
    service: Annotated[list[str] | None, typer.Option(help="A service slug (repeat)")] = None,
    env: Annotated[list[str] | None, typer.Option(help="An environment (repeat)")] = None,
    position: Annotated[int | None, typer.Option(help="Rules are tried in this order")] = None,
    stop: Annotated[bool, typer.Option("--stop", help="Try no later rule once it fires")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off")] = False,
    max_per_hour: Annotated[int | None, typer.Option(help="Per incident (default 10)")] = None,
    team: Annotated[
        str | None, typer.Option("--team", "-t", help="The owning team (default: the org)")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A YAML or JSON rule; the options given win"),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add a rule: on EVENTs matching its conditions (--severity, --service, --env, each
    repeatable; none: any), notify the --channels and/or start the --policy."""
    doc = read_values(file, option="--file", holds="a rule's fields") if file else {}
    given = {
        "events": [_event(e) for e in event] if event else None, "channels": channel,
        "policy": policy, "severities": severity, "services": service, "environments": env,
        "position": position, "stop": stop or None, "enabled": False if disabled else None,
        "max_per_hour": max_per_hour, "team": team,
    }  # fmt: skip
    fields = {**doc, **{k: v for k, v in given.items() if v is not None}}
    rule_name = name or str(fields.pop("name", ""))
    fields.pop("name", None)  # --file's name, when NAME replaced it
    with connect() as client:
        made = client.notify.create_rule(rule_name, fields.pop("events", []), **fields)
    emit_record(made.model_dump(mode="json"), output, RULE_FIELDS)


@rules_app.command("show")
def show_rule(rule: RuleRef, output: OutputOption = OutputFormat.table) -> None:
    """One rule, every field."""
    with connect() as client:
        found = client.notify.rule(rule)
    data = found.model_dump(mode="json")
    emit_record(data, output, [*RULE_FIELDS, *(found.model_extra or {})])


@rules_app.command("remove")
def remove_rule(rule: RuleRef) -> None:
    """Remove a rule."""
    with connect() as client:
        client.notify.delete_rule(rule)
    info(f"rule {rule} removed")


def _switch(rule: str, enabled: bool, output: OutputFormat) -> None:
    with connect() as client:
        found = client.notify.update_rule(rule, enabled=enabled)
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
        return
    info(f"rule {found.name} {'enabled' if enabled else 'disabled'}")


@rules_app.command("enable")
def enable_rule(rule: RuleRef, output: OutputOption = OutputFormat.table) -> None:
    """Switch a rule on."""
    _switch(rule, True, output)


@rules_app.command("disable")
def disable_rule(rule: RuleRef, output: OutputOption = OutputFormat.table) -> None:
    """Switch a rule off (it stays, and `enable` brings it back)."""
    _switch(rule, False, output)


def _targets(level: PolicyLevel) -> str:
    """Whom a level notifies: its channels, and targets of a newer server (users...)."""
    extra = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in (level.model_extra or {}).items() if v not in (None, [], {})]  # fmt: skip
    return "; ".join([", ".join(level.channels), *extra] if level.channels else extra)


def _minutes(value: float) -> str:
    return f"{value:g}m"


def _levels(policy: Policy) -> str:
    return " → ".join(f"+{_minutes(lv.delay_minutes)}: {_targets(lv)}" for lv in policy.levels)


@policies_app.command("list")
def list_policies(output: OutputOption = OutputFormat.table) -> None:
    """The escalation policies you see."""
    with connect() as client:
        found = client.notify.policies(limit=500).items
    if output is OutputFormat.json:
        emit({"items": [p.model_dump(mode="json") for p in found]}, output)
        return
    rows = [{**p.model_dump(mode="json"), "levels": _levels(p)} for p in found]
    emit(rows, output, ["name", "team", "levels", "repeat"])


@policies_app.command("add")
def add_policy(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="A YAML or JSON policy: name, levels, repeat, team"),
    ],
    name: Annotated[str | None, typer.Option(help="Its name (default: the file's)")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the policy of that name, if there is one")
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Add an escalation policy from a YAML or JSON file, e.g. {"name": "on-call",
    "levels": [{"delay_minutes": 0, "channels": ["pager"]}, {"delay_minutes": 15,
    "channels": ["pager-backup", "slack-incidents"]}], "repeat": 1}."""
    doc = read_values(file, option="--file", holds="a policy: name, levels, repeat")
    doc["name"] = name or doc.get("name", "")
    with connect() as client:
        if replace and exists(client.notify.policy, str(doc["name"])):
            made = client.notify.replace_policy(str(doc["name"]), doc)
        else:
            made = client.notify.create_policy(doc.pop("name"), doc.pop("levels", []), **doc)
    _show_policy(made, output)


@policies_app.command("show")
def show_policy(policy: PolicyRef, output: OutputOption = OutputFormat.table) -> None:
    """One policy and its levels."""
    with connect() as client:
        found = client.notify.policy(policy)
    _show_policy(found, output)


def _show_policy(policy: Policy, output: OutputFormat) -> None:
    data = policy.model_dump(mode="json")
    emit_record(data, output, POLICY_FIELDS)
    if output is OutputFormat.table:
        rows = [[str(n), f"+{_minutes(lv.delay_minutes)}", _targets(lv)]
                for n, lv in enumerate(policy.levels, 1)]  # fmt: skip
        console.print(table(["level", "after", "notifies"], rows, "levels"))


@policies_app.command("remove")
def remove_policy(policy: PolicyRef) -> None:
    """Remove an escalation policy."""
    with connect() as client:
        client.notify.delete_policy(policy)
    info(f"policy {policy} removed")
