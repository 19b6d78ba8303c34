"""`loom catalog`: browse the served catalog, check form input and sync it. Its offline
commands live beside it: `validate` in catalog_validate, `test-variables` in
catalog_variables (both registered in main)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from loom.cli import credentials
from loom.cli.connect import connect
from loom.cli.form_values import assign, read_values
from loom.cli.output import (
    OutputFormat,
    OutputOption,
    console,
    emit,
    emit_record,
    fail,
    info,
    plural,
    readable,
    warn,
)
from loom.client.catalog import CatalogFilter, Kind, SyncRecord

catalog_app = typer.Typer(
    help="The catalog of platform offerings (items and bundles).", no_args_is_help=True
)


class KindName(StrEnum):
    item = "item"
    bundle = "bundle"


class SchemaKind(StrEnum):
    CatalogItem = "CatalogItem"
    CatalogBundle = "CatalogBundle"


_KINDS: dict[KindName, Kind] = {KindName.item: "CatalogItem", KindName.bundle: "CatalogBundle"}
_SHORT_KIND = {"CatalogItem": "item", "CatalogBundle": "bundle"}

COLUMNS = ["id", "kind", "name", "category", "version", "owner", "stale"]
_EntryId = Annotated[str, typer.Argument(metavar="ID", help="The item's or bundle's id")]


def _short(sha: str | None, length: int = 12) -> str:
    return sha[:length] if sha else ""


@catalog_app.command("list")
def list_(
    kind: Annotated[KindName | None, typer.Option(help="Items or bundles only")] = None,
    category: Annotated[str | None, typer.Option(help="e.g. databases")] = None,
    owner: Annotated[str | None, typer.Option(help="Owning team slug")] = None,
    tag: Annotated[str | None, typer.Option(show_default=False)] = None,
    search: Annotated[
        str | None, typer.Option(help="Words to find in id, name, description, category, tags")
    ] = None,
    limit: Annotated[int, typer.Option(help="Entries per page", min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow every page")] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List catalog items and bundles, by name."""
    where = CatalogFilter(
        kind=_KINDS[kind] if kind else None,
        category=category,
        owner=owner,
        tag=tag,
        q=search,
    )
    with connect() as client:
        if all_pages:
            entries = list(client.catalog.iter(where, page_size=limit))
            next_cursor = None
        else:
            page = client.catalog.list(where, limit=limit, cursor=cursor)
            entries, next_cursor = page.items, page.next_cursor
    data = [e.model_dump(mode="json") for e in entries]
    if output is OutputFormat.json:
        emit({"items": data, "next_cursor": next_cursor}, output)
        return
    rows = [
        {**row, "kind": _SHORT_KIND.get(row["kind"], row["kind"]), "stale": _stale(row)}
        for row in data
    ]
    emit(rows, output, COLUMNS)
    if next_cursor:
        info(f"more entries: --cursor {next_cursor}")


def _stale(row: dict[str, Any]) -> str:
    return "STALE" if row.get("stale") else ""


@catalog_app.command("show")
def show(entry_id: _EntryId, output: OutputOption = OutputFormat.table) -> None:
    """Show an item or bundle: metadata, owner, version, commit, links, custom fields
    (`-o json`: everything, with its whole definition)."""
    with connect() as client:
        entry = client.catalog.get(entry_id)
    if entry.stale:
        warn(
            f"'{entry.id}' is its last good version: the newest sync found it invalid "
            "(see `loom catalog status`)"
        )
    data = entry.model_dump(mode="json")
    if output is OutputFormat.json:
        emit(data, output)
        return
    record: dict[str, Any] = {
        key: data.get(key)
        for key in (
            "id", "kind", "name", "description", "category", "version", "owner", "tags",
            "commit", "source_file", "synced_at", "updated_at",
        )
    }  # fmt: skip
    record["kind"] = _SHORT_KIND.get(entry.kind, entry.kind)
    record["stale"] = "STALE (last good version)" if entry.stale else "no"
    record["links"] = "\n".join(
        f"{link.get('title', '')} <{link.get('url', '')}>" for link in entry.links
    )
    for key, value in entry.custom.items():
        record[f"custom.{key}"] = readable(value)
    emit_record(record, output)


@catalog_app.command("form")
def form(entry_id: _EntryId, output: OutputOption = OutputFormat.table) -> None:
    """Show the fields of an item's or bundle's form, a group's fields as group.field
    (columns no field uses are left out; `-o json`: the fields and a JSON Schema of
    valid input)."""
    with connect() as client:
        resolved = client.catalog.form(entry_id)
    if output is OutputFormat.json:
        emit(resolved.model_dump(mode="json"), output)
        return
    rows = [_field_row(f) for f in _flatten(resolved.fields)]
    optional = ["default", "constraints", "options", "conditions"]
    columns = ["path", "type", "required", *[c for c in optional if any(r[c] for r in rows)]]
    emit(rows, output, columns, title=f"{resolved.name} {resolved.version}")


def _flatten(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for field in fields:
        flat.append(field)
        flat.extend(_flatten(field.get("fields") or []))
    return flat


def _field_row(field: dict[str, Any]) -> dict[str, str]:
    constraints = [
        f"{key} {readable(field[key])}"
        for key in ("pattern", "min", "max", "minLength", "maxLength")
        if field.get(key) is not None
    ]
    options = []
    for option in field.get("options") or []:
        value, label = readable(option.get("value")), option.get("label")
        options.append(value if not label or label == value else f"{value} ({label})")
    conditions = [
        f"{word} if {describe_condition(field[key])}"
        for key, word in (("visibleIf", "visible"), ("requiredIf", "required"))
        if field.get(key)
    ]
    return {
        "path": str(field.get("path", field.get("id", ""))),
        "type": str(field.get("type", "")),
        "required": "yes" if field.get("required") else "",
        "default": readable(field.get("default")),
        "constraints": "\n".join(constraints),
        "options": "\n".join(options),
        "conditions": "\n".join(conditions),
    }


def describe_condition(condition: dict[str, Any]) -> str:
    """A `visibleIf`/`requiredIf` condition as a person reads it: `size = "large"`."""

    def nested(child: dict[str, Any]) -> str:
        text = describe_condition(child)
        return f"({text})" if " and " in text or " or " in text else text

    if condition.get("all") is not None:
        return " and ".join(nested(c) for c in condition["all"])
    if condition.get("any") is not None:
        return " or ".join(nested(c) for c in condition["any"])
    if condition.get("not") is not None:
        return f"not ({describe_condition(condition['not'])})"
    field = condition.get("field") or "?"
    if "equals" in condition:
        return f"{field} = {json.dumps(condition['equals'])}"
    if "notEquals" in condition:
        return f"{field} != {json.dumps(condition['notEquals'])}"
    if "in" in condition:
        return f"{field} in {json.dumps(condition['in'])}"
    if "notIn" in condition:
        return f"{field} not in {json.dumps(condition['notIn'])}"
    if "isSet" in condition:
        return f"{field} is {'set' if condition['isSet'] else 'not set'}"
    return json.dumps(condition)


@catalog_app.command("versions")
def versions(entry_id: _EntryId, output: OutputOption = OutputFormat.table) -> None:
    """List the last stored versions of an item or bundle, newest first."""
    with connect() as client:
        found = client.catalog.versions(entry_id)
    data = [v.model_dump(mode="json") for v in found]
    if output is OutputFormat.json:
        emit(data, output)
        return
    rows = [
        {**row, "commit": _short(row.get("commit_sha")), "digest": _short(row.get("digest"))}
        for row in data
    ]
    emit(rows, output, ["version", "created_at", "commit", "digest", "source_file"])


@catalog_app.command("check-input")
def check_input(
    entry_id: _EntryId,
    values: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="FIELD=VALUE",
            help="A form value; group.field=value for a group's field; repeat the same "
            "field for several options of a multi-enum",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A YAML or JSON file of form values (--set wins)"),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Check form values against an item's form without requesting anything; exit 1 when
    they are invalid. Values stay text: the server converts them as a form would."""
    data = read_values(file) if file else {}
    for assignment in values or []:
        assign(data, assignment)
    with connect() as client:
        result = client.catalog.validate_input(entry_id, data)
    if output is OutputFormat.json:
        emit(result.model_dump(mode="json"), output)
    elif result.ok:
        console.print(f"[green]input is valid[/green] for {entry_id}", soft_wrap=True)
        if result.values:
            emit_record({k: readable(v) for k, v in result.values.items()}, output)
    else:
        console.print(
            f"[red]input is INVALID[/red] for {entry_id}: {plural(len(result.errors), 'error')}",
            soft_wrap=True,
        )
        emit([e.model_dump(mode="json") for e in result.errors], output, ["field", "issue"])
    if not result.ok:
        raise typer.Exit(1)


@catalog_app.command("refresh")
def refresh(output: OutputOption = OutputFormat.table) -> None:
    """Sync the catalog from its repository now; exit 1 when the sync failed."""
    with connect() as client:
        record = client.catalog.refresh()
    if output is OutputFormat.json:
        emit(record.model_dump(mode="json"), output)
    else:
        _print_sync(record)
    if record.failed:
        raise typer.Exit(1)


_STATUS_STYLE = {"ok": "green", "partial": "yellow", "failed": "bold red"}


def _print_sync(record: SyncRecord, label: str = "catalog sync") -> None:
    style = _STATUS_STYLE.get(record.status, "bold")
    commit = f"commit {_short(record.commit_sha)}" if record.commit_sha else "no commit"
    console.print(
        f"{label} [{style}]{record.status}[/{style}]: {commit}, "
        f"{plural(record.items, 'item')}, {plural(record.bundles, 'bundle')}, "
        f"{record.changed} changed, {plural(len(record.problems), 'problem')}",
        soft_wrap=True,
        highlight=False,
    )
    for problem in record.problems:
        typer.echo(problem.text)
    if record.error:
        typer.echo(f"error: {record.error}")
    if record.status == "partial":
        warn("documents with problems were skipped; their last good versions stay served")


@catalog_app.command("status")
def status(output: OutputOption = OutputFormat.table) -> None:
    """Show where the catalog comes from and how its last syncs went."""
    with connect() as client:
        state = client.catalog.sync_status()
    if output is OutputFormat.json:
        emit(state.model_dump(mode="json"), output)
        return
    branch = f" (branch {state.branch})" if state.branch else ""
    info(f"source: {state.source or '(none configured)'}{branch}")
    if state.last is None:
        info("never synced: run `loom catalog refresh`")
        return
    _print_sync(state.last, label="last sync")
    if state.last_successful and state.last_successful.id != state.last.id:
        good = state.last_successful
        commit = f", commit {_short(good.commit_sha)}" if good.commit_sha else ""
        info(f"last successful sync: {good.finished_at or good.started_at}{commit}")
    rows = [
        {
            **r.model_dump(mode="json"),
            "commit": _short(r.commit_sha),
            "problems": len(r.problems),
        }
        for r in state.recent
    ]
    emit(
        rows,
        output,
        ["started_at", "trigger", "status", "commit", "items", "bundles", "changed", "problems"],
        title="recent syncs",
    )


@catalog_app.command("schema")
def schema(
    kind: Annotated[
        SchemaKind | None, typer.Option(help="One kind's schema (default: both, by kind)")
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Use this installation's schema, not the server's (the default when no "
            "token is set)",
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of catalog documents, for editors to validate YAML as you
    type. It comes from the server when you are logged in, else from this installation."""
    if not offline:
        try:
            offline = credentials.effective().token is None
        except credentials.CredentialsError as exc:
            fail(str(exc))
    if offline:
        from loom.catalog.documents import json_schemas

        schemas = json_schemas()
    else:
        with connect() as client:
            schemas = client.catalog.schema()
    data = schemas.get(kind.value) if kind else schemas
    if data is None:
        fail(f"the server has no schema for {kind}")
    typer.echo(json.dumps(data, indent=2))
