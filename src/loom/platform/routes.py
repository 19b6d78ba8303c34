"""The route template of a request (`/api/v1/teams/{team_id}`, never the raw path), for
metric labels, span names and log lines: ids in labels would explode cardinality.

FastAPI resolves included routers lazily, so the route a request matched
(`scope["route"]`) knows only its own path (`/teams/{team_id}`), not the prefixes of
the routers it was included through; plain Starlette routes and mounts leave only their
endpoint in the scope. The full templates come from the app's route table
(`fastapi.routing.iter_route_contexts`), indexed once per app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

#: Requests that matched no route (404s, scanners): one label for all of them.
UNMATCHED = "unmatched"

#: id(route or endpoint) → the full templates it serves (one per place it is included).
_Index = dict[int, list[tuple[str, re.Pattern[str]]]]
_indexes: WeakKeyDictionary[Any, _Index] = WeakKeyDictionary()


def _index(app: Any) -> _Index:
    index: _Index = {}
    for context in iter_route_contexts(app.routes):
        template = context.path_format
        if not template:
            continue
        regex, _format, _convertors = compile_path(template)
        route = context.original_route
        endpoint = getattr(route, "endpoint", None) or getattr(route, "app", None)
        for key in {id(route), id(endpoint)} - {id(None)}:
            index.setdefault(key, []).append((template, regex))
    return index


def _lookup(app: Any, matched: object, path: str) -> str | None:
    index = _indexes.get(app)
    if index is None or id(matched) not in index:
        index = _indexes[app] = _index(app)  # first request, or routes added since
    candidates = index.get(id(matched), [])
    if len(candidates) == 1:
        return candidates[0][0]
    return next((t for t, regex in candidates if regex.match(path)), None)


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route `scope` matched, once the app has routed it; mounted
    apps (static files) give `<mount>/{path}`; a request that matched nothing gives
    "unmatched"."""
    matched = scope.get("route") or scope.get("endpoint")
    app = scope.get("app")
    if matched is None or app is None or not hasattr(app, "routes"):
        return UNMATCHED
    return _lookup(app, matched, str(scope.get("path", ""))) or UNMATCHED
