"""Loop finding: one loop per group of services that call each other round."""

from __future__ import annotations

from loom.services.cycles import find_cycles, strongly_connected


def test_one_loop_per_group_in_call_order_from_its_first_name() -> None:
    graph = {"c": {"a", "d"}, "a": {"b"}, "b": {"c"}, "d": set(), "x": {"y"}, "y": {"x"}}
    assert find_cycles(graph) == [["a", "b", "c"], ["x", "y"]]


def test_the_shortest_loop_through_the_first_name_is_reported() -> None:
    # a -> b -> c -> d -> a and the shortcut c -> a: one group, the loop a b c.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"d", "a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_a_service_calling_itself_is_a_loop_and_a_chain_is_not() -> None:
    assert find_cycles({"a": {"a"}, "b": {"c"}, "c": set()}) == [["a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}}) == []


def test_long_chains_do_not_hit_the_recursion_limit() -> None:
    n = 5000
    graph = {f"s{i}": {f"s{i + 1}"} for i in range(n)}
    graph[f"s{n}"] = {"s0"}
    [group] = [g for g in strongly_connected(graph) if len(g) > 1]
    assert len(group) == n + 1
    [loop] = find_cycles(graph)
    assert len(loop) == n + 1 and loop[0] == "s0" and loop[1] == "s1"
