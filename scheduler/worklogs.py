"""Scheduled jobs of the worklogs feature (being built)."""

from __future__ import annotations

from bot.context import Services
from scheduler.jobs import ScheduledJob


def jobs(services: Services) -> list[ScheduledJob]:
    """This feature's jobs, built from the school profile."""
    return []
