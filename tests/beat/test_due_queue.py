"""The due queue against a plain model of it: whatever the pushes, forgets and pops, it
answers as a dict of task -> due time would (its entries are packed integers)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from djag.beat.due import DueQueue

TASKS = st.integers(min_value=1, max_value=2**63 - 1) | st.integers(min_value=1, max_value=6)
DUES = st.integers(min_value=-(2**40), max_value=2**40) | st.integers(min_value=0, max_value=5)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), TASKS, DUES),
        st.tuples(st.just("forget"), TASKS, st.just(0)),
        st.tuples(st.just("pop"), st.just(0), DUES),
        st.tuples(st.just("count"), st.just(0), DUES),
    ),
    max_size=200,
)


def earliest(model: dict[int, int], moment: int) -> int | None:
    due = [(at, task) for task, at in model.items() if at <= moment]
    return min(due)[1] if due else None


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_the_due_queue_answers_as_a_dict_of_due_times(operations: list) -> None:
    queue, model = DueQueue(), {}
    for name, task, value in operations:
        if name == "push":
            queue.push(task, value)
            model[task] = value
        elif name == "forget":
            queue.forget(task)
            model.pop(task, None)
        elif name == "pop":
            expected = earliest(model, value)
            assert queue.pop_next(value) == expected
            model.pop(expected, None)  # type: ignore[arg-type]
        else:
            assert queue.count_due(value) == sum(1 for at in model.values() if at <= value)
        assert len(queue) == len(model)
        assert queue.next_due() == (min(model.values()) if model else None)
        assert all(task in queue for task in model)
    assert queue.pop_due(2**41) == [task for _, task in sorted((at, t) for t, at in model.items())]


def test_a_task_pushed_again_at_the_same_time_after_a_forget_is_due_once() -> None:
    queue = DueQueue()
    queue.push(7, 100)
    queue.forget(7)
    queue.push(7, 100)  # its stale entry equals the live one
    assert queue.count_due(100) == 1
    assert queue.pop_due(100) == [7]
    assert queue.next_due() is None
