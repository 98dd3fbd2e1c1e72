"""When inspection rounds open and are due, by the school calendar and school time: which
school days get no round, a round's deadline, its reminder, until when it takes late marks,
and how late a missed opening may still be caught up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from school.profile import InspectionPlan, SchoolProfile
from storage.models import InspectionRound


def skip_reason(profile: SchoolProfile, plan: InspectionPlan, day: date) -> str | None:
    """Why no round opens on this school day ("holiday", "weekend", "vacation"), or None."""
    calendar = profile.calendar
    if calendar.is_holiday(day):
        return "holiday"
    if calendar.is_vacation(day) and not plan.run_in_vacation:
        return "vacation"
    if not calendar.is_working_day(day):
        return "vacation" if calendar.is_vacation(day) else "weekend"
    return None


def deadline_for(profile: SchoolProfile, plan: InspectionPlan, start: datetime) -> datetime:
    """When a round of `plan` opened at `start` is due (aware; school-time rules)."""
    local = start.astimezone(profile.tz)
    if isinstance(plan.deadline, time):
        due = plan.deadline_at(local)
        if due <= local:  # a deadline before the start time means the next day
            due += timedelta(days=1)
        return due
    if plan.deadline.is_working:
        return profile.add_working_time(local, plan.deadline)
    return plan.deadline_at(local)


def late_marks_until(
    profile: SchoolProfile, plan: InspectionPlan, round_: InspectionRound
) -> datetime:
    """Until when a round takes late marks: `late_marks_for` after its deadline, and at most
    until the plan's next round opens (its next scheduled occurrence)."""
    deadline = round_.deadline_at
    if plan.late_marks_for.is_working:
        until = profile.add_working_time(deadline.astimezone(profile.tz), plan.late_marks_for)
    else:
        until = deadline + (plan.late_marks_for.timedelta or timedelta(0))
    after = round_.occurrence.astimezone(profile.tz) + timedelta(seconds=1)
    next_round = profile.plan_trigger(plan).get_next_fire_time(None, after)
    if next_round is not None and deadline <= next_round < until:
        until = next_round
    return until


def reminder_at(plan: InspectionPlan, round_: InspectionRound) -> datetime:
    """When unfinished inspectors are reminded: `remind_before` the deadline.

    When that would be at or before the opening (a monthly round with remind_before = 1d),
    the reminder goes halfway between opening and deadline instead.
    """
    before = plan.remind_before.timedelta or timedelta(hours=1)
    at = round_.deadline_at - before
    if at <= round_.opened_at:
        at = round_.opened_at + (round_.deadline_at - round_.opened_at) / 2
    return at


def catch_up_window(profile: SchoolProfile, plan: InspectionPlan, now: datetime) -> timedelta:
    """How late a missed opening may still be caught up: until the round's deadline."""
    fire = profile.plan_trigger(plan).get_next_fire_time(None, now)
    if fire is None:
        return timedelta(hours=1)
    window = deadline_for(profile, plan, fire) - fire
    return max(window, timedelta(minutes=10))
