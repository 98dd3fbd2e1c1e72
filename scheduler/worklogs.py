"""Scheduled jobs of the work logs: the reminders and the evening summary.

The triggers fire every day at the profile's times (school time); the jobs themselves check
the school calendar, because a CronTrigger knows no holidays. Every message is queued in the
outbox under a key naming the day and the person, so a job that fires twice sends once.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from apscheduler.triggers.cron import CronTrigger

from notices import outbox
from notices.render import button, esc, keyboard, language_of, split_text
from notices.services import Services
from scheduler.jobs import JobRun, ScheduledJob
from school.i18n import translator
from storage import groups, people, worklogs
from storage.models import GroupPurpose

REMINDER_CATCH_UP = timedelta(hours=2)
SUMMARY_CATCH_UP = timedelta(hours=3)


def _daily(services: Services, at: time) -> CronTrigger:
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=services.profile.tz)


async def send_reminders(services: Services, day: date, *, second: bool = False) -> int:
    """Queue a private reminder (with a button opening the form) to every staff member
    without a log of ``day`` who is not on leave; nobody on a non-working day.

    Returns how many were queued now (a second call for the same day queues none).
    """
    profile = services.profile
    cutoff = profile.worklog.cutoff_time.strftime("%H:%M")
    queued = 0
    async with services.database.transaction() as session:
        for person in await worklogs.people_to_remind(session, day, profile):
            t_ = translator(language_of(person, services.settings.language.value))
            if second:
                text = t_(
                    "📝 Second reminder: your work log for {day} is still missing. Please fill "
                    "it in before {cutoff}."
                )
            else:
                text = t_(
                    "📝 Reminder: you have not filed your work log for {day} yet. Please fill "
                    "it in before {cutoff}."
                )
            kind = "reminder2" if second else "reminder"
            queued += await outbox.notify(
                session,
                services,
                key=f"worklog:{kind}:{day.isoformat()}:{person.id}",
                chat_id=person.telegram_id,
                text=text.format(day=day.isoformat(), cutoff=cutoff),
                markup=keyboard(
                    [[button(t_("📝 Write the log"), f"wl:open:{day.strftime('%Y%m%d')}")]]
                ),
            )
    return queued


def summary_text(status: worklogs.DayStatus, late_today: list[str], language: str) -> str:
    """The evening summary of a day (HTML) in one language."""
    t_ = translator(language)
    on_time = [person for person, log in status.filed if not log.late]
    late = [person for person, log in status.filed if log.late]

    def names(persons: list[str]) -> str:
        return "、".join(esc(n) for n in persons) if persons else t_("none")

    lines = [
        t_("📒 <b>Work logs of {day}</b>").format(day=status.day.isoformat()),
        t_("Filed on time ({count}): {names}").format(
            count=len(on_time), names=names([p.name for p in on_time])
        ),
    ]
    if late:
        lines.append(
            t_("Filed late ({count}): {names}").format(
                count=len(late), names=names([p.name for p in late])
            )
        )
    lines.append(
        t_("Missing ({count}): {names}").format(
            count=len(status.missing), names=names([p.name for p in status.missing])
        )
    )
    lines.append(
        t_("On leave ({count}): {names}").format(
            count=len(status.on_leave), names=names([p.name for p in status.on_leave])
        )
    )
    if late_today:
        lines.append(
            t_("Late filings (补交) received today: {names}").format(names="、".join(late_today))
        )
    lines.append(t_("Details: /logs {day}").format(day=status.day.isoformat()))
    return "\n".join(lines)


async def send_summary(services: Services, day: date) -> int:
    """Queue the day's summary for the leaders' group if one is bound, else each director.

    Nothing on a non-working day. Returns how many messages were queued now.
    """
    profile = services.profile
    if not profile.calendar.is_working_day(day):
        return 0
    queued = 0
    default_language = services.settings.language.value
    async with services.database.transaction() as session:
        status = await worklogs.day_status(session, day, profile)
        start, end = worklogs.day_bounds(day, profile.tz)
        staff = {p.id: p for p in await worklogs.active_staff(session)}
        late_today = [
            f"{esc(staff[log.person_id].name)} ({log.day.strftime('%m-%d')})"
            for log in await worklogs.logs_filed_between(session, start, end)
            if log.late and log.day != day and log.person_id in staff
        ]
        leaders = await groups.group_for(session, GroupPurpose.LEADERS)
        if leaders is not None:
            targets = [(leaders.chat_id, default_language)]
        else:
            targets = [
                (d.telegram_id, language_of(d, default_language))
                for d in await people.active_directors(session)
            ]
        for chat_id, language in targets:
            text = summary_text(status, late_today, language)
            for part, chunk in enumerate(split_text(text)):
                queued += await outbox.notify(
                    session,
                    services,
                    key=f"worklog:summary:{day.isoformat()}:{chat_id}:{part}",
                    chat_id=chat_id,
                    text=chunk,
                )
    return queued


def jobs(services: Services) -> list[ScheduledJob]:
    """The reminder, the optional second reminder and the evening summary."""
    settings = services.profile.worklog
    tz = services.profile.tz

    async def reminder(run: JobRun) -> None:
        await send_reminders(run.services, run.occurrence.astimezone(tz).date())

    async def second_reminder(run: JobRun) -> None:
        await send_reminders(run.services, run.occurrence.astimezone(tz).date(), second=True)

    async def summary(run: JobRun) -> None:
        await send_summary(run.services, run.occurrence.astimezone(tz).date())

    found = [
        ScheduledJob(
            name="worklogs.reminder",
            description="remind staff without today's work log (working days)",
            trigger=_daily(services, settings.reminder_time),
            run=reminder,
            catch_up=REMINDER_CATCH_UP,
        )
    ]
    if settings.second_reminder_time is not None:
        found.append(
            ScheduledJob(
                name="worklogs.second_reminder",
                description="remind again those still missing today's work log",
                trigger=_daily(services, settings.second_reminder_time),
                run=second_reminder,
                catch_up=REMINDER_CATCH_UP,
            )
        )
    found.append(
        ScheduledJob(
            name="worklogs.summary",
            description="the day's work-log summary to the director or leaders' group",
            trigger=_daily(services, settings.summary_time),
            run=summary,
            catch_up=SUMMARY_CATCH_UP,
        )
    )
    return found
