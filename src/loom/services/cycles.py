"""Finding the loops in a dependency graph. Loops are allowed in the registry (services
do call each other round), so graph queries report them instead of refusing them."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping


def strongly_connected(graph: Mapping[str, Collection[str]]) -> list[set[str]]:
    """Tarjan's groups of nodes that all reach each other (iterative: no recursion limit
    on long chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _shortest_loop(graph: Mapping[str, Collection[str]], group: set[str]) -> list[str]:
    """The shortest loop through the group's first node (by name), in call order."""
    start = min(group)
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if nxt in group and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return [start]  # unreachable for a real group: every member reaches the start


def find_cycles(graph: Mapping[str, Collection[str]]) -> list[list[str]]:
    """One loop per group of nodes that call each other round (a node calling itself
    counts), each starting at the group's first node by name; sorted."""
    loops = []
    for group in strongly_connected(graph):
        if len(group) == 1:
            [node] = group
            if node not in graph.get(node, ()):
                continue
        loops.append(_shortest_loop(graph, group))
    return sorted(loops)
