"""Group commit: callers on many threads hand items to one writer thread, which writes
whatever is waiting in one transaction and then releases each caller with its own result.

Used where many small concurrent writes would otherwise each pay a commit (fsync) and queue
on the same locks: ingest batches and audit records. A caller returns only after its item
is durably written; if the write fails, every caller of that group gets the exception.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """One writer thread; `submit` blocks until the item's group is written."""

    def __init__(self, flush: Callable[[list[T]], list[R]], *, name: str, max_size: int = 1000,
                 key: Callable[[T], Hashable] = lambda _item: None, size: Callable[[T], int] = lambda _item: 1) -> None:
        self.flush = flush
        self.max_size = max_size
        self.key = key
        self.size = size
        self._queue: queue.Queue[_Slot[T]] = queue.Queue()
        self._held: list[_Slot[T]] = []
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, item: T) -> R:
        """Write the item (with whatever else is waiting) and return its result."""
        slot = _Slot(item)
        self._queue.put(slot)
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[no-any-return]

    def _next_group(self) -> list[_Slot[T]]:
        first = self._held.pop(0) if self._held else self._queue.get()
        group, total, k = [first], self.size(first.item), self.key(first.item)
        while total < self.max_size:
            try:
                slot = self._queue.get_nowait()
            except queue.Empty:
                break
            if self.key(slot.item) == k:
                group.append(slot)
                total += self.size(slot.item)
            else:
                self._held.append(slot)
        return group

    def _run(self) -> None:
        while True:
            group = self._next_group()
            try:
                results = self.flush([s.item for s in group])
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
                for s in group:
                    s.error = exc
                    s.done.set()
                continue
            for s, r in zip(group, results, strict=True):
                s.result = r
                s.done.set()
