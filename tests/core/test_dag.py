from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from djag.core.dag import NO_RUNS, Edge, RunMarks, blocking_edges, edge_holds, find_cycle
from djag.core.plan import TaskSpec

from .schedules import Every
from .simulation import SimTask, Simulation

MINUTE = Every(60)


def task(tid: int, name: str, schedule=MINUTE, duration: int = 5, outcome=None, **spec) -> SimTask:
    return SimTask(
        TaskSpec(id=tid, schedule=schedule, **spec), name, duration, outcome or (lambda start: True)
    )


# --- cycles ------------------------------------------------------------------


def test_find_cycle_none_in_a_dag():
    assert find_cycle([("a", "b"), ("b", "c"), ("a", "c")]) is None


def test_find_cycle_returns_the_closed_path():
    cycle = find_cycle([("import", "build"), ("build", "email"), ("email", "import")])
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert len(cycle) == 4
    assert set(cycle) == {"import", "build", "email"}


def test_find_cycle_self_loop():
    assert find_cycle([(1, 1)]) == [1, 1]


def test_find_cycle_long_chain_has_no_recursion_limit():
    edges = [(i, i + 1) for i in range(20_000)]
    assert find_cycle(edges) is None
    assert find_cycle([*edges, (20_000, 0)]) is not None


@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=30))
def test_find_cycle_path_is_made_of_edges(edges):
    cycle = find_cycle(edges)
    if cycle is None:
        # Acyclic: a topological order exists.
        remaining = set(edges)
        nodes = {n for e in edges for n in e}
        while nodes:
            free = {n for n in nodes if not any(a == n for a, b in remaining)}
            assert free, "find_cycle missed a cycle"
            nodes -= free
            remaining = {(a, b) for a, b in remaining if b not in free}
    else:
        assert cycle[0] == cycle[-1]
        assert all(pair in set(edges) for pair in itertools.pairwise(cycle))


# --- the rule on one edge ------------------------------------------------------


def test_edge_needs_a_dependee_run_finished_after_depender_start():
    edge = Edge(dependee=2)
    assert not edge_holds(edge, NO_RUNS, 0, NO_RUNS)
    assert edge_holds(edge, NO_RUNS, 0, RunMarks(last_success=10, last_finish=10))
    assert not edge_holds(edge, RunMarks(last_start=10), 0, RunMarks(last_success=10))
    assert edge_holds(edge, RunMarks(last_start=10), 0, RunMarks(last_success=11))


def test_edge_counts_from_depender_start_at():
    assert not edge_holds(Edge(2), NO_RUNS, 100, RunMarks(last_success=50))


def test_require_success_false_accepts_any_terminal_run():
    failed = RunMarks(last_success=None, last_finish=20)
    assert not edge_holds(Edge(2), NO_RUNS, 0, failed)
    assert edge_holds(Edge(2, require_success=False), NO_RUNS, 0, failed)


def test_future_edge_holds_until_depender_ran_after_its_creation():
    edge = Edge(dependee=2, future=True, created_at=100)
    assert edge_holds(edge, NO_RUNS, 0, NO_RUNS)
    assert edge_holds(edge, RunMarks(last_start=90), 0, NO_RUNS)
    assert not edge_holds(edge, RunMarks(last_start=110), 0, NO_RUNS)
    assert edge_holds(edge, RunMarks(last_start=110), 0, RunMarks(last_success=120))


def test_blocking_edges_lists_only_the_failing_ones():
    marks = {2: RunMarks(last_success=5), 3: NO_RUNS}
    edges = [Edge(2), Edge(3)]
    assert blocking_edges(edges, NO_RUNS, 0, marks.__getitem__) == [Edge(3)]


# --- simulated timelines ------------------------------------------------------


def test_chain_runs_in_order_every_cycle():
    sim = Simulation([task(1, "import"), task(2, "build"), task(3, "email")])
    sim.add_edge("build", Edge(1))
    sim.add_edge("email", Edge(2))
    sim.run(60 * 5 + 30)
    assert sim.start_order() == ["import", "build", "email"] * 5
    assert [e.at for e in sim.starts("email")] == [70, 130, 190, 250, 310]


def test_diamond_joins_after_both_branches():
    sim = Simulation(
        [task(1, "a"), task(2, "b", duration=3), task(3, "c", duration=9), task(4, "d")]
    )
    for depender, dependee in (("b", 1), ("c", 1), ("d", 2), ("d", 3)):
        sim.add_edge(depender, Edge(dependee))
    sim.run(60 * 3 + 30)
    assert [e.at for e in sim.starts("d")] == [74, 134, 194]  # a ends 65, c ends 65 + 9


def test_fan_in_with_a_failing_branch_holds_the_join_until_it_succeeds():
    # b fails in its second cycle (started at 125) and succeeds again in the third.
    failing = task(2, "b", outcome=lambda start: not 120 <= start < 180)
    sim = Simulation([task(1, "a"), failing, task(3, "d")])
    sim.add_edge("d", Edge(1))
    sim.add_edge("d", Edge(2))
    sim.run(60 * 4 + 30)
    d_runs = sim.starts("d")
    assert [e.at for e in d_runs] == [65, 185, 245]
    # The join's missed event (120) is coalesced into its next run, not lost.
    assert (d_runs[1].scheduled_for, d_runs[1].coalesced) == (180, 2)


def test_failing_dependee_does_not_block_when_success_is_not_required():
    failing = task(2, "b", outcome=lambda start: False)
    sim = Simulation([failing, task(3, "d")])
    sim.add_edge("d", Edge(2, require_success=False))
    sim.run(60 * 3 + 30)
    assert len(sim.starts("d")) == 3


def test_sparse_dependee_dense_depender_runs_once_per_dependee_run():
    sim = Simulation([task(1, "hourly", schedule=Every(3600), duration=30), task(2, "minutely")])
    sim.add_edge("minutely", Edge(1))
    sim.run(3 * 3600 + 100)
    minutely = sim.starts("minutely")
    assert [e.at for e in minutely] == [3630, 7230, 10830]
    assert [e.coalesced for e in minutely] == [60, 60, 60]  # the 60 minutes of each hour


def test_producer_consumer_alternate_with_a_future_edge():
    # consumer runs after producer; producer's next run waits for the consumer (future edge).
    sim = Simulation(
        [
            task(1, "producer", schedule=Every(10), duration=2),
            task(2, "consumer", schedule=Every(10), duration=25),
        ]
    )
    sim.add_edge("consumer", Edge(1))
    sim.add_edge("producer", Edge(2, future=True, created_at=-1))
    sim.run(200)
    order = sim.start_order()
    assert order[:6] == ["producer", "consumer"] * 3
    assert all(a != b for a, b in itertools.pairwise(order)), order


def test_self_future_edge_forbids_overlap():
    sim = Simulation([task(1, "slow", schedule=Every(10), duration=25, max_running=0)])
    sim.add_edge("slow", Edge(1, future=True, require_success=False, created_at=-1))
    sim.run(200)
    starts = [e.at for e in sim.starts("slow")]
    assert all(b - a >= 25 for a, b in itertools.pairwise(starts)), starts
    assert len(starts) >= 6


def test_without_the_self_edge_runs_overlap():
    sim = Simulation([task(1, "slow", schedule=Every(10), duration=25, max_running=0)])
    sim.run(200)
    starts = [e.at for e in sim.starts("slow")]
    assert any(b - a < 25 for a, b in itertools.pairwise(starts))


def test_edge_added_while_tasks_are_mid_run():
    sim = Simulation([task(1, "a", duration=20), task(2, "b", duration=20)])
    sim.run(70)  # both started at 60, mid-run now
    sim.add_edge("b", Edge(1))
    sim.run(200)
    b_starts = [e.at for e in sim.starts("b")]
    # b's 120 event waits for a run of a finished after b's last start (60): a ended at 80.
    assert b_starts == [60, 120, 180]
    assert [e.at for e in sim.starts("a")] == [60, 120, 180]
    sim2 = Simulation([task(1, "a", duration=70), task(2, "b", duration=5)])
    sim2.run(70)
    sim2.add_edge("b", Edge(1))
    sim2.run(200)
    # a (70 s) now holds b back: each of b's runs waits for the end of a's run.
    assert [e.at for e in sim2.starts("a")] == [60, 130, 200]
    assert [e.at for e in sim2.starts("b")] == [60, 130, 200]


def test_manual_style_run_of_dependee_counts_like_a_scheduled_one():
    marks = {2: RunMarks(last_start=500, last_success=530, last_finish=530)}
    assert blocking_edges([Edge(2)], RunMarks(last_start=400), 0, marks.__getitem__) == []
