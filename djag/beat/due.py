"""The due queue: when each task is next decided, as a heap with lazy deletion."""

from __future__ import annotations

import heapq


class DueQueue:
    """Each task has at most one live entry; pushing again or forgetting makes the
    old entry stale, and stale entries are skipped (and now and then compacted)."""

    __slots__ = ("_heap", "_live", "_versions")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int]] = []  # (due, task id, version)
        self._versions: dict[int, int] = {}
        self._live: set[int] = set()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, task_id: int) -> bool:
        return task_id in self._live

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def push(self, task_id: int, due: int) -> None:
        """(Re)schedule the task at ``due``, replacing its entry if it had one."""
        version = self._versions.get(task_id, 0) + 1
        self._versions[task_id] = version
        self._live.add(task_id)
        heapq.heappush(self._heap, (due, task_id, version))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._compact()

    def forget(self, task_id: int) -> None:
        if task_id in self._live:
            self._live.discard(task_id)
            self._versions[task_id] += 1

    def next_due(self) -> int | None:
        heap = self._heap
        while heap and not self._is_live(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

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
        _, task_id, _ = heapq.heappop(self._heap)
        self.forget(task_id)
        return task_id

    def count_due(self, moment: int) -> int:
        """How many tasks are due at or before ``moment``; walks only the heap's due part."""
        heap, count, stack = self._heap, 0, [0] if self._heap else []
        while stack:
            at = stack.pop()
            if heap[at][0] > moment:
                continue  # a heap: nothing below is due either
            count += self._is_live(heap[at])
            stack.extend(child for child in (2 * at + 1, 2 * at + 2) if child < len(heap))
        return count

    def _is_live(self, entry: tuple[int, int, int]) -> bool:
        return entry[1] in self._live and self._versions[entry[1]] == entry[2]

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if self._is_live(entry)]
        heapq.heapify(self._heap)
