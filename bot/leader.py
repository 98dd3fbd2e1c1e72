"""Which worker leads: runs the schedule and sends the outbox (HOUQIN_SCALE_OUT).

With several worker processes on one PostgreSQL database, every worker takes updates and
answers the person acting, but only one, the leader, runs the scheduled jobs and the outbox's
delivery passes (so Telegram's 30 messages/s are paced in one place). The leader is the worker
whose dedicated connection holds a PostgreSQL advisory lock (`storage.leadership`):

- a worker that is not the leader tries to take the lock every `RETRY` seconds, so when the
  leader dies (its connection closes and PostgreSQL frees the lock) another worker takes over
  within about `RETRY` seconds and catches up the jobs (`bot.lifecycle`);
- the leader checks its connection every `CHECK` seconds: if it is lost, so is the lock, and
  the worker stops leading at once (no job starts; it tries to take the lead again);
- a worker that is not the leader hands its deliveries to the leader: `outbox.deliver_soon`
  sends a NOTIFY that the leader LISTENs to on its dedicated connection;
- shutdown releases the lock (closes the connection) once the running jobs finished.

A single process (scale_out off, SQLite or PostgreSQL) always leads: no lock, no connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from notices import outbox
from notices.services import Services
from storage import leadership
from storage.leadership import LeaderSeat

log = logging.getLogger(__name__)

RETRY = 1.0  # seconds between attempts to take the lead (and to reconnect)
CHECK = 2.0  # seconds between checks of the leader's connection
CHECK_TIMEOUT = 5.0  # a connection that does not answer within this is taken for lost

TOOK_OVER = "this worker is now the leader"
STOPPED_LEADING = "this worker is no longer the leader"


class Leadership:
    """This worker's part in leadership: `leading` says whether it runs the schedule and sends
    the outbox. `on_lead()` runs each time it becomes the leader; `on_wake()` when another
    worker queued notifications for the leader to send."""

    def __init__(
        self,
        services: Services,
        *,
        on_lead: Callable[[], None],
        on_wake: Callable[[], None],
    ) -> None:
        self.services = services
        self.scale_out = services.settings.scale_out
        self.leading = False
        self._on_lead = on_lead
        self._on_wake = on_wake
        self._seat: LeaderSeat | None = None
        self._task: asyncio.Task[None] | None = None
        self._waking: asyncio.Task[None] | None = None
        self._wake_again = False

    def follow(self) -> None:
        """Before updates are taken: a scale-out worker hands its deliveries to the leader
        until it leads itself."""
        if self.scale_out and not self.leading:
            outbox.send_elsewhere(self.wake_leader)

    async def start(self) -> None:
        """Lead at once (a single process), or start trying to take the lead."""
        if not self.scale_out:
            self._lead()
            return
        self._task = asyncio.create_task(self._keep(), name="leadership")

    async def stop(self) -> None:
        """Stop leading and close the dedicated connection (PostgreSQL frees the lock at once,
        so another worker takes over within `RETRY` seconds)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()
        if self.leading and self.scale_out:
            log.info("%s: stopped (the lock is released)", STOPPED_LEADING)
        self.leading = False

    def _lead(self) -> None:
        self.leading = True
        outbox.send_elsewhere(None)
        self._on_lead()

    def _follow(self, why: str) -> None:
        self.leading = False
        log.warning("%s: %s", STOPPED_LEADING, why)
        outbox.send_elsewhere(self.wake_leader)

    async def _keep(self) -> None:
        """Take the lead when it is free; while leading, check the connection that holds it."""
        url = self.services.database.url
        told = False  # that another worker leads
        while True:
            try:
                if self._seat is None:
                    self._seat = await LeaderSeat.open(url, on_wake=self._woken)
                seat = self._seat
                if not self.leading:
                    if await seat.take():
                        log.info("%s: it runs the scheduled jobs and sends the outbox", TOOK_OVER)
                        self._lead()
                        continue
                    if not told:
                        log.info("another worker leads; this one takes over if it stops")
                        told = True
                    await asyncio.sleep(RETRY)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(seat.lost.wait(), CHECK)
                if not await seat.alive(CHECK_TIMEOUT):
                    raise ConnectionError("the connection holding the lock was lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.leading:
                    self._follow(f"{type(exc).__name__}: {exc}")
                else:
                    log.warning("cannot reach PostgreSQL to take the lead: %s", exc)
                await self._close()
                await asyncio.sleep(RETRY)

    async def _close(self) -> None:
        seat, self._seat = self._seat, None
        if seat is not None:
            await seat.close()

    def _woken(self) -> None:
        """Another worker queued notifications: the leader sends them now."""
        if self.leading:
            self._on_wake()

    def wake_leader(self) -> None:
        """Tell the leader that notifications are due (one NOTIFY at a time; what is queued
        meanwhile sends one more)."""
        if self._waking is not None and not self._waking.done():
            self._wake_again = True
            return

        async def notify() -> None:
            while True:
                self._wake_again = False
                try:
                    await leadership.wake_sender(self.services.database)
                except Exception as exc:  # the leader's 5-second pass sends it anyway
                    log.warning("could not wake the leader: %s", exc)
                if not self._wake_again:
                    return

        self._waking = outbox.in_background(notify(), name="outbox.wake")
