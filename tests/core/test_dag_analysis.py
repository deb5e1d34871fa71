"""Graph analysis for djag_plan and djag_check: dependency order, dead ends, deadlocks."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from djag.core.dag import (
    Edge,
    RunMarks,
    Unrunnable,
    deadlocked_cycles,
    dependency_order,
    unrunnable_dependers,
)
from djag.core.plan import TaskSpec

from .schedules import Every
from .simulation import SimTask, Simulation

# --- dependency order ---------------------------------------------------------


def test_dependees_come_first_along_a_chain():
    edges = [("email", "build"), ("build", "import")]
    assert dependency_order(["email", "build", "import"], edges, key=str) == [
        "import",
        "build",
        "email",
    ]


def test_ties_are_broken_by_the_key():
    edges = [("d", "b"), ("d", "c"), ("b", "a"), ("c", "a")]
    assert dependency_order(["d", "c", "b", "a", "z"], edges, key=str) == ["a", "b", "c", "d", "z"]


def test_key_orders_ready_nodes_not_the_input_order():
    order = dependency_order([3, 1, 2], [], key=lambda n: {1: "b", 2: "a", 3: "c"}[n])
    assert order == [2, 1, 3]


def test_edges_to_unlisted_nodes_and_self_edges_are_ignored():
    assert dependency_order(["b", "a"], [("a", "x"), ("b", "b")], key=str) == ["a", "b"]


def test_a_cycle_is_placed_last_instead_of_dropped():
    order = dependency_order(["a", "b", "c"], [("a", "b"), ("b", "a")], key=str)
    assert order == ["c", "a", "b"]


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=30))
def test_order_respects_every_edge_of_a_dag(pairs):
    edges = [(max(a, b), min(a, b)) for a, b in pairs if a != b]  # higher waits for lower
    nodes = list(range(10))
    order = dependency_order(reversed(nodes), edges, key=lambda n: -n)
    assert sorted(order) == nodes
    place = {node: index for index, node in enumerate(order)}
    assert all(place[dependee] < place[depender] for depender, dependee in edges)


# --- unrunnable dependers -----------------------------------------------------


def test_a_depender_of_a_dead_task_is_unrunnable():
    found = unrunnable_dependers({2: [Edge(1)]}, {1: "disabled"})
    assert found == [Unrunnable(task=2, waits_for=1, future=False, cause=1, reason="disabled")]


def test_unrunnable_spreads_down_the_chain_with_the_root_cause():
    edges = {2: [Edge(1)], 3: [Edge(2, future=True)], 4: [Edge(3)], 5: [Edge(9)]}
    found = unrunnable_dependers(edges, {1: "its end_at has passed"})
    assert [(u.task, u.waits_for, u.future, u.cause) for u in found] == [
        (2, 1, False, 1),
        (3, 2, True, 1),
        (4, 3, False, 1),
    ]
    assert {u.reason for u in found} == {"its end_at has passed"}


def test_a_task_reached_by_two_paths_is_listed_once_by_its_shortest():
    edges = {2: [Edge(1)], 3: [Edge(2)], 4: [Edge(3), Edge(1)]}
    found = unrunnable_dependers(edges, {1: "disabled"})
    assert [(u.task, u.waits_for) for u in found] == [(2, 1), (4, 1), (3, 2)]


def test_dead_tasks_and_self_edges_are_not_reported():
    edges = {1: [Edge(1, future=True)], 2: [Edge(1)], 3: [Edge(3, future=True)]}
    found = unrunnable_dependers(edges, {1: "disabled", 2: "disabled"})
    assert found == []


def test_nothing_is_unrunnable_without_dead_tasks():
    assert unrunnable_dependers({2: [Edge(1)], 1: [Edge(2, future=True)]}, {}) == []


# --- deadlocks ----------------------------------------------------------------

ALL = {1: 0.0, 2: 0.0, 3: 0.0}


def ran(start: float, finish: float, ok: bool = True, succeeded_at: float | None = None):
    """Marks of a task whose newest run started at ``start`` and finished at ``finish``."""
    return RunMarks(
        last_start=start, last_finish=finish, last_success=finish if ok else succeeded_at
    )


def test_a_fresh_cycle_through_a_future_edge_can_make_its_first_move():
    # consumer (2) waits for producer (1); producer's future edge holds until it has run.
    edges = {2: [Edge(1)], 1: [Edge(2, future=True, created_at=0)]}
    assert deadlocked_cycles(edges, {}, ALL, in_flight=()) == []


def test_a_cycle_of_ordinary_edges_is_deadlocked_from_the_start():
    # The models refuse it on save; the analysis still recognises it.
    assert deadlocked_cycles({1: [Edge(2)], 2: [Edge(1)]}, {}, ALL, in_flight=()) == [[1, 2, 1]]


def test_a_failed_consumer_deadlocks_a_producer_consumer_pair():
    edges = {2: [Edge(1)], 1: [Edge(2, future=True, created_at=0)]}
    marks = {1: ran(60, 62), 2: ran(65, 90, ok=False)}
    assert deadlocked_cycles(edges, marks, ALL, in_flight=()) == [[1, 2, 1]]


def test_the_same_failure_is_harmless_when_any_result_counts():
    edges = {2: [Edge(1)], 1: [Edge(2, future=True, require_success=False, created_at=0)]}
    marks = {1: ran(60, 62), 2: ran(65, 90, ok=False)}
    assert deadlocked_cycles(edges, marks, ALL, in_flight=()) == []


def test_a_run_in_flight_may_still_unblock_the_cycle():
    edges = {2: [Edge(1)], 1: [Edge(2, future=True, created_at=0)]}
    marks = {1: ran(60, 62), 2: ran(65, 90, ok=False)}
    assert deadlocked_cycles(edges, marks, ALL, in_flight={2}) == []


def test_a_failed_run_stops_a_task_with_a_self_future_edge_requiring_success():
    edges = {1: [Edge(1, future=True, created_at=0)]}
    assert deadlocked_cycles(edges, {1: ran(60, 70, ok=False)}, ALL, in_flight=()) == [[1, 1]]
    assert deadlocked_cycles(edges, {1: ran(60, 70)}, ALL, in_flight=()) == []


def test_tasks_beat_does_not_schedule_are_left_to_unrunnable_dependers():
    edges = {1: [Edge(2)], 2: [Edge(1)]}
    assert deadlocked_cycles(edges, {}, {1: 0.0}, in_flight=()) == []


def test_each_task_is_reported_in_one_cycle():
    # 1 <-> 2 and 2 <-> 3: one deadlocked group, reported through one of its cycles.
    edges = {1: [Edge(2)], 2: [Edge(1), Edge(3)], 3: [Edge(2)]}
    cycles = deadlocked_cycles(edges, {}, ALL, in_flight=())
    assert len(cycles) == 1
    assert cycles[0][0] == cycles[0][-1]


# --- against the simulated scheduler -------------------------------------------


def sim_task(tid: int, duration: int, failures: frozenset[int]) -> SimTask:
    return SimTask(
        TaskSpec(id=tid, schedule=Every(10)),
        f"t{tid}",
        duration,
        lambda start: start // 10 not in failures,
    )


edge_lists = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans()), max_size=5
)


@settings(max_examples=150, deadline=None)
@given(
    edge_lists,
    st.lists(st.integers(1, 12), max_size=3, unique=True).map(frozenset),
    st.integers(3, 25),
)
def test_a_reported_deadlock_never_moves_again_in_the_simulation(edges, failures, duration):
    sim = Simulation([sim_task(tid, duration, failures) for tid in (1, 2, 3)])
    seen = set()
    for depender, dependee, future, require_success in edges:
        # Ordinary edges only downwards, as the models refuse an ordinary cycle.
        if (depender, dependee) in seen or (not future and depender <= dependee):
            continue
        seen.add((depender, dependee))
        edge = Edge(dependee, future, require_success, created_at=-1)
        sim.add_edge(f"t{depender}", edge)
    start_at = {task.spec.id: float(task.spec.start_at) for task in sim.tasks}
    deadlocked_since: dict[int, int] = {}
    for now in range(200):
        sim.step(now)
        in_flight = {task_id for _, task_id, _ in sim.running}
        for cycle in deadlocked_cycles(sim.edges, sim.marks, start_at, in_flight):
            for task_id in cycle:
                deadlocked_since.setdefault(task_id, now)
    sim.now = 200
    sim.run(400)
    for task_id, since in deadlocked_since.items():
        later = [e.at for e in sim.starts(f"t{task_id}") if e.at > since]
        assert later == [], f"t{task_id} was reported deadlocked at {since} but ran at {later}"


def test_the_simulated_producer_consumer_deadlock_is_found_when_it_happens():
    # The consumer's run started at 70 fails: from then on neither may run.
    sim = Simulation(
        [
            SimTask(TaskSpec(id=1, schedule=Every(10)), "producer", 2),
            SimTask(TaskSpec(id=2, schedule=Every(10)), "consumer", 5, lambda s: s < 60),
        ]
    )
    sim.add_edge("consumer", Edge(1))
    sim.add_edge("producer", Edge(2, future=True, created_at=-1))
    start_at = {1: 0.0, 2: 0.0}
    found_at = None
    for now in range(300):
        sim.step(now)
        in_flight = {task_id for _, task_id, _ in sim.running}
        if found_at is None and deadlocked_cycles(sim.edges, sim.marks, start_at, in_flight):
            found_at = now
    last_start = max(e.at for e in sim.starts())
    assert found_at is not None
    assert last_start < found_at
    assert found_at - last_start <= 5  # found as soon as the failing run ended
    assert [e.task for e in sim.starts()][-2:] == ["producer", "consumer"]
    assert all(a != b for a, b in itertools.pairwise(sim.start_order()))
