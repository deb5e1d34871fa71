"""Parts of a large graph for the DAG page: connected groups and a task's neighbourhood,
checked against networkx, an independent implementation."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from djag.core.dag import connected_groups, neighbourhood

graphs = st.integers(min_value=1, max_value=40).flatmap(
    lambda size: st.tuples(
        st.just(list(range(size))),
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=size - 1),
                st.integers(min_value=0, max_value=size - 1),
            ),
            max_size=60,
        ),
    )
)


def test_groups_come_largest_first_and_keep_the_node_order() -> None:
    nodes = ["a", "b", "c", "d", "e", "f"]
    edges = [("c", "a"), ("e", "d"), ("f", "e"), ("b", "zz")]  # zz is not a node: ignored
    assert connected_groups(nodes, edges) == [["d", "e", "f"], ["a", "c"], ["b"]]


def test_a_future_cycle_is_one_group_and_a_self_edge_changes_nothing() -> None:
    assert connected_groups([1, 2, 3], [(1, 2), (2, 1), (3, 3)]) == [[1, 2], [3]]


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_groups_are_networkx_weakly_connected_components(graph) -> None:
    nodes, edges = graph
    reference = nx.DiGraph()
    reference.add_nodes_from(nodes)
    reference.add_edges_from(edges)
    expected = {frozenset(group) for group in nx.weakly_connected_components(reference)}

    groups = connected_groups(nodes, edges)

    assert {frozenset(group) for group in groups} == expected
    assert sum(len(group) for group in groups) == len(nodes)
    assert [len(group) for group in groups] == sorted((len(g) for g in groups), reverse=True)
    assert all(group == sorted(group) for group in groups)


def test_neighbourhood_goes_both_ways_up_to_the_depth() -> None:
    edges = [("load", "extract"), ("report", "load"), ("mail", "report"), ("audit", "extract")]
    assert neighbourhood(edges, "load", 1) == {"load": 0, "extract": 1, "report": 1}
    assert neighbourhood(edges, "load", 2) == {
        "load": 0,
        "extract": 1,
        "report": 1,
        "audit": 2,
        "mail": 2,
    }
    assert neighbourhood(edges, "alone", 3) == {"alone": 0}
    assert neighbourhood(edges, "load", 0) == {"load": 0}


@settings(max_examples=300, deadline=None)
@given(graphs, st.integers(min_value=0, max_value=5))
def test_neighbourhood_is_networkx_undirected_shortest_paths(graph, depth: int) -> None:
    nodes, edges = graph
    reference = nx.Graph()
    reference.add_nodes_from(nodes)
    reference.add_edges_from(edges)
    start = nodes[0]

    expected = nx.single_source_shortest_path_length(reference, start, cutoff=depth)

    assert neighbourhood(edges, start, depth) == dict(expected)
