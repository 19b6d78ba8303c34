"""`loom service versions|drift|check|health|scorecard`: what runs where, drift, health
checks run now, health over time, and readiness (registered on `service_app` in main)."""

from __future__ import annotations

from typing import Annotated

import typer

from loom.cli.connect import connect
from loom.cli.output import OutputFormat, OutputOption, console, emit, fail, info, plural
from loom.cli.service_views import (
    DRIFT_COLUMNS,
    checks_exit_code,
    checks_table,
    drift_rows,
    health_table,
    report_table,
    scorecard_table,
    table,
    versions_table,
)
from loom.client.service_models import Scorecard, ScorecardReport

_Team = Annotated[str | None, typer.Option("--team", "-t", help="Owning team, by slug or id")]
_Env = Annotated[str | None, typer.Option("--env", "-e", help="An environment's slug")]


def versions(
    team: _Team = None,
    system: Annotated[str | None, typer.Option(help="Only this system's services")] = None,
    tier: Annotated[int | None, typer.Option(help="Only this tier", min=1, max=3)] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show which version of each service runs in each environment; drifting cells are
    marked ⚠ (in red)."""
    with connect() as client:
        matrix = client.services.versions(team=team, system=system, tier=tier)
    if output is OutputFormat.json:
        emit(matrix.model_dump(mode="json"), output)
        return
    console.print(versions_table(matrix))
    drifting = sum(1 for item in matrix.items if item.drift)
    if drifting:
        info(f"{plural(drifting, 'service')} drifting: see `loom service drift`")


def drift(
    team: _Team = None,
    kind: Annotated[str | None, typer.Option(help="Only findings of this rule")] = None,
    environment: _Env = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List drift: environments behind the one before them for too long, or running a
    version never seen there."""
    with connect() as client:
        findings = client.services.drift(team=team, kind=kind, environment=environment)
    if output is OutputFormat.json:
        emit({"items": [f.model_dump(mode="json") for f in findings]}, output)
        return
    if not findings:
        info("no drift")
        return
    console.print(table(DRIFT_COLUMNS, drift_rows(findings)))


def check(
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="The service's slug")],
    output: OutputOption = OutputFormat.table,
) -> None:
    """Run a service's enabled health checks now (operators of its team) and show what
    they found; exit 1 when any fails (degraded is not failing)."""
    with connect() as client:
        checks = client.services.run_checks(slug)
    if output is OutputFormat.json:
        emit([c.model_dump(mode="json") for c in checks], output)
    elif not checks:
        info(f"{slug} has no enabled health checks")
    else:
        console.print(checks_table(checks, f"{slug}: {plural(len(checks), 'check')}"))
    raise typer.Exit(checks_exit_code(checks))


def service_health(
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="The service's slug")],
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show a service's health: its status (its worst check) and each check's
    availability and p95 latency over 24 h, 7 d and 30 d."""
    with connect() as client:
        found = client.services.health(slug)
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
    elif not found.checks:
        info(f"{slug} has no health checks")
    else:
        console.print(health_table(found, f"{slug}: {found.status}"))


def scorecard(
    slug: Annotated[
        str | None, typer.Argument(metavar="[SLUG]", help="The service's slug (not with --report)")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Go or no-go of every service for an environment")
    ] = False,
    environment: _Env = None,
    team: _Team = None,
    level: Annotated[
        str | None, typer.Option(help="With --report: only services at this level (or none)")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show a service's readiness rules (✓ passed, ✗ failed) and the level it reaches;
    with --report, go or no-go of every service for each environment (or --env)."""
    if report == (slug is not None):
        fail("give a service's SLUG, or --report (with --env) for every service")
    with connect() as client:
        found: Scorecard | ScorecardReport = (
            client.services.scorecard(slug)
            if slug is not None
            else client.services.scorecard_report(environment=environment, team=team, level=level)
        )
    if output is OutputFormat.json:
        emit(found.model_dump(mode="json"), output)
    elif isinstance(found, Scorecard):
        console.print(scorecard_table(found))
    else:
        console.print(report_table(found))
