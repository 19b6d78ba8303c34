"""How `loom service` shows the registry to people: a dependency graph as a tree, the
version matrix, drift findings, check results and scorecards as tables.

Pure functions of the client's models (no HTTP, no printing), so each is tested with
sample data alone. Data is put in `Text` objects, never parsed as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from loom.cli.output import cell, readable
from loom.client.service_models import (
    Check,
    DriftFinding,
    Graph,
    GraphEdge,
    GraphNode,
    HealthCheck,
    Scorecard,
    ScorecardReport,
    ServiceHealth,
    VersionMatrix,
)

DRIFT_STYLE = "bold red"
DRIFT_MARK = "⚠"
CYCLE_MARK = "↻"
_OUTCOME_STYLE = {"passing": "green", "degraded": "yellow", "failing": "bold red"}


def table(columns: Sequence[str], rows: Iterable[Sequence[str | Text]], title: str = "") -> Table:
    """A table whose cells are plain text (or styled `Text`); long cells wrap."""
    out = Table(title=title or None)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*[c if isinstance(c, Text) else Text(c) for c in row])
    return out


# -- graph --------------------------------------------------------------------------


def _node_text(node: GraphNode | None, slug: str) -> Text:
    text = Text(slug, style="bold")
    if node is not None:
        text.append(f"  tier {node.tier} · {node.team} · {node.lifecycle}", style="dim")
    return text


def _edge_note(edge: GraphEdge) -> str:
    return f"  ({edge.kind}, {edge.criticality})"


def graph_tree(graph: Graph, root: str, *, depth: int, direction: str) -> Tree:
    """The services around `root` as a tree: what it calls (down), what calls it (up),
    or both as two branches, `depth` levels deep. A service reached again on its own
    path is a loop: shown once more, marked ↻, and not followed."""
    nodes = {n.slug: n for n in graph.nodes}
    tree = Tree(_node_text(nodes.get(root), root))
    for way in ("down", "up") if direction == "both" else (direction,):
        branch = tree
        if direction == "both":
            branch = tree.add(Text("calls" if way == "down" else "called by", style="italic"))
        _grow(branch, graph.edges, nodes, root, way, depth, (root,))
    return tree


def _grow(
    branch: Tree,
    edges: Sequence[GraphEdge],
    nodes: dict[str, GraphNode],
    slug: str,
    way: str,
    levels: int,
    path: tuple[str, ...],
) -> None:
    if way == "down":
        around = [(e.target, e) for e in edges if e.source == slug]
    else:
        around = [(e.source, e) for e in edges if e.target == slug]
    around.sort(key=lambda p: (p[0] is None, p[0] or "", p[1].target_resource or ""))
    for other, edge in around:  # services by slug, then outside resources
        if other is None:  # an outside resource: a leaf
            leaf = Text(edge.target_resource or "?", style="cyan")
            branch.add(leaf.append(f"  outside resource{_edge_note(edge)}", style="dim"))
        elif other in path:
            loop = Text(f"{CYCLE_MARK} {other}", style="bold yellow")
            branch.add(loop.append(f"  cycle{_edge_note(edge)}", style="yellow"))
        else:
            child = branch.add(_node_text(nodes.get(other), other).append(_edge_note(edge)))
            if levels > 1:
                _grow(child, edges, nodes, other, way, levels - 1, (*path, other))


def cycle_lines(graph: Graph) -> list[str]:
    """Each loop as "a → b → c → a"."""
    return [" → ".join([*cycle, cycle[0]]) for cycle in graph.cycles if cycle]


def edge_rows(graph: Graph) -> list[list[str]]:
    """The whole-system graph as rows: caller, what it calls, kind, criticality."""
    return [
        [e.source, e.target or e.target_resource or "", e.kind, e.criticality] for e in graph.edges
    ]


# -- versions and drift -------------------------------------------------------------


def versions_table(matrix: VersionMatrix) -> Table:
    """One row per service, one column per environment (in promotion order) with the
    version deployed there; a cell with a drift finding is marked ⚠ and red."""
    envs = sorted(matrix.environments, key=lambda e: e.rank)
    rows: list[list[str | Text]] = []
    for item in matrix.items:
        drifted = {f.environment for f in item.drift}
        row: list[str | Text] = [item.service, cell(item.tier)]
        for env in envs:
            deployed = item.versions.get(env.slug)
            version = deployed.version if deployed else "—"
            if env.slug in drifted:
                row.append(Text(f"{version} {DRIFT_MARK}", style=DRIFT_STYLE))
            else:
                row.append(Text(version, style="" if deployed else "dim"))
        row.append(", ".join(sorted({f.kind for f in item.drift})))
        rows.append(row)
    columns = ["service", "tier", *[e.name or e.slug for e in envs], "drift"]
    return table(columns, rows)


DRIFT_COLUMNS = ["service", "environment", "kind", "version", "reference", "since", "message"]


def drift_rows(findings: Iterable[DriftFinding]) -> list[list[str]]:
    """One row per finding; `reference` is what it is compared with ("staging 1.4.0")."""
    rows = []
    for f in findings:
        reference = " ".join(x for x in (f.reference_environment, f.reference_version) if x)
        since = cell(f.since.isoformat()) if f.since else ""
        rows.append([f.service, f.environment, f.kind, f.version or "", reference, since,
                     f.message])  # fmt: skip
    return rows


# -- health checks -------------------------------------------------------------------


CHECK_COLUMNS = ["check", "status", "http", "duration_ms", "url", "message"]


def checks_table(checks: Sequence[Check], title: str = "") -> Table:
    """Each check with its status and what its latest run found."""
    rows: list[list[str | Text]] = []
    for c in checks:
        run = c.last_result
        rows.append([
            c.name, Text(c.status, style=_OUTCOME_STYLE.get(c.status, "dim")),
            cell(run.status_code if run else None), readable(run.duration_ms if run else None),
            c.url, run.message if run else "",
        ])  # fmt: skip
    return table(CHECK_COLUMNS, rows, title)


def checks_exit_code(checks: Iterable[Check]) -> int:
    """1 when any check fails (degraded is not failing), else 0."""
    return 1 if any(c.status == "failing" for c in checks) else 0


HEALTH_WINDOWS = ("24h", "7d", "30d")


def _availability(check: HealthCheck, window: str) -> str:
    found = check.windows.get(window)
    if found is None or found.availability is None:
        return "—"
    p95 = f", p95 {readable(found.p95_ms)} ms" if found.p95_ms is not None else ""
    return f"{readable(found.availability)}%{p95}"


def health_table(health: ServiceHealth, title: str = "") -> Table:
    """Each check's status, since when, and availability (p95 latency) per window."""
    rows: list[list[str | Text]] = [
        [c.name, Text(c.status, style=_OUTCOME_STYLE.get(c.status, "dim")),
         cell(c.status_since.isoformat()) if c.status_since else "",
         *[_availability(c, w) for w in HEALTH_WINDOWS]]
        for c in health.checks
    ]  # fmt: skip
    return table(["check", "status", "since", *HEALTH_WINDOWS], rows, title)


# -- scorecards ----------------------------------------------------------------------


def scorecard_title(card: Scorecard) -> str:
    score = "" if card.score is None else f", score {readable(card.score)}"
    return f"{card.service}: level {card.level or 'none'}{score}"


def scorecard_table(card: Scorecard) -> Table:
    """Every rule, in the order the server gives, with ✓ (passed) or ✗, its level, title
    and message; the title says the level reached."""
    rows: list[list[str | Text]] = [
        [Text("✓", style="green") if r.passed else Text("✗", style="bold red"),
         r.id, r.level, r.title, r.message or ""]
        for r in card.rules
    ]  # fmt: skip
    return table(["", "rule", "level", "title", "message"], rows, scorecard_title(card))


def _go(go: bool | None) -> Text:
    if go is None:
        return Text("—", style="dim")
    return Text("GO", style="green") if go else Text("NO-GO", style="bold red")


def report_table(report: ScorecardReport) -> Table:
    """Per service: level, score, go or no-go for each environment (its column header
    names the level it requires), and the rules it fails."""
    envs = list(report.required_levels)
    rows: list[list[str | Text]] = [
        [r.service, r.level or "none", readable(r.score), *[_go(r.go.get(e)) for e in envs],
         ", ".join(f.id for f in r.failing)]
        for r in report.items
    ]  # fmt: skip
    heads = [f"{e} ({report.required_levels[e]})" for e in envs]
    title = f"readiness for {report.environment}" if report.environment else "readiness"
    return table(["service", "level", "score", *heads, "failing"], rows, title)
