"""What a scheduled job is (its name, trigger, body and catch-up window) and what its body gets.

Each feature's `scheduler/<feature>.py` declares its jobs with these; `scheduler.jobs` runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from telegram import Bot

from notices.services import Services


@dataclass(frozen=True)
class JobRun:
    """What a job's body gets: the bot to send with, the services, and the occurrence."""

    bot: Bot
    services: Services
    occurrence: datetime


@dataclass(frozen=True)
class ScheduledJob:
    """A named, time-based job with a trigger in the school's time zone."""

    name: str  # stable id, e.g. "tickets.overdue"
    description: str
    trigger: BaseTrigger
    run: Callable[[JobRun], Awaitable[None]]
    catch_up: timedelta = timedelta(hours=1)  # how late a missed occurrence may still run
    # Whether the job does its work at an occurrence (the appraisal fires daily in a window but
    # publishes on the publication day); None: at every occurrence. `next_run` skips the rest.
    acts_on: Callable[[datetime], bool] | None = None
