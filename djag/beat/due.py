"""The due queue: when each task is next decided, as a heap with lazy deletion.

Beat keeps every enabled task in it, a million if need be, so an entry is one
integer, ``due << 64 | task id`` (task ids are below 2**63): ordered as
``(due, task id)``, about 40 bytes, where a tuple of the due time, the id and a
version took over 100. The task's live entry is the one its ``_keys`` entry
equals; any other is stale, skipped when it comes to the top.
"""

from __future__ import annotations

import heapq

SHIFT = 64
MASK = (1 << SHIFT) - 1


class DueQueue:
    """Each task has at most one live entry; pushing again or forgetting makes the
    old entry stale, and stale entries are skipped (and now and then compacted)."""

    __slots__ = ("_heap", "_keys")

    def __init__(self) -> None:
        self._heap: list[int] = []  # due << SHIFT | task id
        self._keys: dict[int, int] = {}  # task id -> its live entry

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, task_id: int) -> bool:
        return task_id in self._keys

    def clear(self) -> None:
        self._heap.clear()
        self._keys.clear()

    def push(self, task_id: int, due: int) -> None:
        """(Re)schedule the task at ``due``, replacing its entry if it had one."""
        key = due << SHIFT | task_id
        if self._keys.get(task_id) == key:
            return  # already there, live
        self._keys[task_id] = key
        heapq.heappush(self._heap, key)
        if len(self._heap) > 2 * len(self._keys) + 64:
            self._compact()

    def forget(self, task_id: int) -> None:
        self._keys.pop(task_id, None)

    def next_due(self) -> int | None:
        heap, keys = self._heap, self._keys
        while heap and keys.get(heap[0] & MASK) != heap[0]:
            heapq.heappop(heap)
        return heap[0] >> SHIFT if heap else None

    def pop_due(self, moment: int) -> list[int]:
        """The tasks due at or before ``moment``, earliest first; their entries are gone."""
        due_tasks: list[int] = []
        while (task_id := self.pop_next(moment)) is not None:
            due_tasks.append(task_id)
        return due_tasks

    def pop_next(self, moment: int) -> int | None:
        """The earliest task due at or before ``moment``, its entry gone; None if none is."""
        due = self.next_due()
        if due is None or due > moment:
            return None
        task_id = heapq.heappop(self._heap) & MASK
        del self._keys[task_id]
        return task_id

    def count_due(self, moment: int) -> int:
        """How many tasks are due at or before ``moment``; walks only the heap's due part."""
        heap, keys = self._heap, self._keys
        limit = (moment + 1) << SHIFT  # the entries below it are due by ``moment``
        live: set[int] = set()  # a stale entry may equal the live one: count each once
        stack = [0] if heap else []
        while stack:
            at = stack.pop()
            key = heap[at]
            if key >= limit:
                continue  # a heap: nothing below is due either
            if keys.get(key & MASK) == key:
                live.add(key)
            stack.extend(child for child in (2 * at + 1, 2 * at + 2) if child < len(heap))
        return len(live)

    def _compact(self) -> None:
        self._heap = list(self._keys.values())
        heapq.heapify(self._heap)
