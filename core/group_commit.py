"""Group commit for the webhooks of one process: rows that arrive while others are being written wait
for that write, then are written together, by the first of their threads, in one round trip and one
commit (one flush of the write-ahead log).

Idle, every row is written at once by its own thread, alone. Under load a batch holds about as many
rows as the process has threads, which costs the machine a fraction of one flush, one round trip and
one transaction each (docs/benchmarks.md: the inbound message webhook, the inbound call webhook).

Each caller gets its own row's outcome, or its own row's error: when a batch fails, its rows are
written again one by one, so a bad row fails alone and nothing is lost or written twice (the writes
this serves are idempotent: a row written again is found, not duplicated).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Waiting:
    __slots__ = ("item", "done", "outcome", "error")

    def __init__(self, item):
        self.item, self.done, self.outcome, self.error = item, False, None, None


class GroupCommit:
    """`write(items)` writes and commits a batch in one go (on the calling thread's own database
    connection) and returns one outcome per item, in order."""

    def __init__(self, write: Callable[[list], Sequence[Any]]):
        self._write_batch = write
        self._condition = threading.Condition()
        self._pending: list[_Waiting] = []
        self._storing = False

    def write(self, item) -> Any:
        mine = _Waiting(item)
        with self._condition:
            self._pending.append(mine)
            while self._storing and not mine.done:
                self._condition.wait()
            if not mine.done:  # nobody is writing: this thread writes every item waiting, its own among them
                batch, self._pending, self._storing = self._pending, [], True
        if not mine.done:
            try:
                self._write(batch)
            finally:
                with self._condition:
                    for waiting in batch:
                        if waiting.outcome is None and waiting.error is None:  # _write was interrupted
                            waiting.error = RuntimeError("the write was interrupted")
                        waiting.done = True
                    self._storing = False
                    self._condition.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.outcome

    def _write(self, batch: list[_Waiting]) -> None:
        """Set each waiting item's outcome or error."""
        try:
            outcomes = self._write_batch([waiting.item for waiting in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for waiting in batch:
                try:
                    [waiting.outcome] = self._write_batch([waiting.item])
                except Exception as alone:
                    waiting.error = alone
            return
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.outcome = outcome
