"""How long the event loop stayed busy: the longest gap between the ticks of a 1 ms timer.

A bot on one event loop answers nobody while one piece of work holds the loop; the tests of
SQLite on the loop's thread and `bench.appraisal` use this to show how long that was.
"""

from __future__ import annotations

import asyncio
import time


class LoopWatch:
    """`async with LoopWatch() as watch: ...`; then `watch.longest` (seconds)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, time.perf_counter() - start)

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._watch())
        await asyncio.sleep(0)  # the watch is running before the work starts
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        await asyncio.sleep(0.005)  # the tick overdue at the end of the work is counted
        self._task.cancel()
