"""Dependency graphs in the portal: the whole-system graph page, and what the graph
panel shows (the service's graph tab uses it too).

The interactive drawing is `static/service-graph.js` (cytoscape), which fetches the
graph as JSON from the API (`/api/v1/service-graph`, `/api/v1/services/{slug}/graph`;
the portal's session cookie authenticates those reads). The page itself carries the
same graph as a plain list of edges, so it says everything without JavaScript.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from loom.api.deps import SessionDep
from loom.services import graph, schemas
from loom.web.deps import PagePrincipal
from loom.web.routing import page_router
from loom.web.services import SYSTEM_GRAPH, service_path
from loom.web.templating import render

router = page_router()

SYSTEM_GRAPH_API = "/api/v1/service-graph"
DEFAULT_DEPTH = 2
DEPTHS = tuple(range(1, graph.MAX_DEPTH + 1))
DIRECTION_LABELS = {"both": "Both ways", "down": "What it calls", "up": "What calls it"}


def neighbourhood_api(slug: str) -> str:
    return f"/api/v1/services/{slug}/graph"


def depth_of(raw: str | None) -> int:
    """The depth asked for, or the default when it is not one the graph accepts (a page
    shows the default graph rather than an error for a hand-edited address)."""
    try:
        depth = int(raw or DEFAULT_DEPTH)
    except ValueError:
        return DEFAULT_DEPTH
    return depth if depth in DEPTHS else DEFAULT_DEPTH


def direction_of(raw: str | None) -> str:
    return raw if raw in graph.DIRECTIONS else "both"


def _cycle_edges(cycles: list[list[str]]) -> set[tuple[str, str]]:
    """The calls that close loops: each cycle is in call order, the last calling the first."""
    return {(loop[i], loop[(i + 1) % len(loop)]) for loop in cycles for i in range(len(loop))}


def panel(found: schemas.Graph, api_url: str, *, focus: str | None = None) -> dict[str, Any]:
    """What the graph panel template needs: where the drawing gets its data, and the
    graph as text (edges, loops) for readers without JavaScript."""
    looping = _cycle_edges(found.cycles)
    edges = [
        {
            "source": e.source,
            "source_url": service_path(e.source),
            "target": e.target,
            "target_url": service_path(e.target) if e.target else None,
            "resource": e.target_resource,
            "kind": e.kind.value,
            "criticality": e.criticality.value,
            "in_cycle": e.target is not None and (e.source, e.target) in looping,
        }
        for e in found.edges
    ]
    called = {e.source for e in found.edges} | {e.target for e in found.edges if e.target}
    return {
        "api_url": api_url,
        "focus": focus,
        "node_count": len(found.nodes),
        "edges": edges,
        "cycles": found.cycles,
        "alone": [n.slug for n in found.nodes if n.slug not in called],
    }


@router.get(SYSTEM_GRAPH)
async def system_graph_page(
    request: Request, principal: PagePrincipal, session: SessionDep
) -> Response:
    async with session.begin():
        found = await graph.system_graph(session, principal)
    context = {"graph": panel(found, SYSTEM_GRAPH_API), "controls": None}
    return render(request, "services/graph.html", context)
