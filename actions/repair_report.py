"""The monthly repair report (KPIs) to the leaders' group: posted once per month.

The month's numbers are queued in the outbox for the leaders' group (or, with none bound, each
director) in ONE transaction with the record that the month was reported
(`storage.ticket_kpis.record_report`): a second call (the job firing twice, a restart, the
catch-up) finds the record and queues nothing. The chart image is sent right after the commit
(the outbox carries text and known file ids only); the record says when it was sent, so it is
posted once as well. A month without a single ticket (before the school used the bot) is not
reported.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import TelegramError

from notices import outbox, repair_report
from notices.render import language_of, queue_long
from notices.services import Services
from school.i18n import translator
from storage import groups, people, ticket_kpis
from storage.models import GroupPurpose
from storage.stats import Month
from storage.ticket_kpis import RepairKpis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posted:
    """What a post_month call did."""

    month: Month
    created: bool  # False: reported before, or nothing to report
    chart_sent: bool
    kpis: RepairKpis | None


async def month_kpis(services: Services, month: Month) -> RepairKpis:
    """A month's numbers as of now (/stats)."""
    async with services.database.reading() as session:
        return await ticket_kpis.month_kpis(session, month, services.profile, now=services.now())


async def post_month(bot: Bot, services: Services, month: Month) -> Posted:
    """Queue the month's report for the leaders' group once, then post its chart once."""
    profile = services.profile
    language = services.settings.language.value
    async with services.database.transaction() as session:
        record = await ticket_kpis.report_record(session, month)
        kpis: RepairKpis | None = None
        created = False
        if record is None:
            kpis = await ticket_kpis.month_kpis(session, month, profile, now=services.now())
            if kpis.is_empty:
                log.info("no repair tickets in %s: no monthly repair report", month)
                return Posted(month, created=False, chart_sent=False, kpis=kpis)
            key = f"repair_report:{month}"
            group = await groups.group_for(session, GroupPurpose.LEADERS)
            if group is not None:
                text = repair_report.report_text(kpis, month, profile, translator(language))
                await queue_long(session, services, key=key, chat_id=group.chat_id, text=text)
            else:
                log.warning("repair report of %s: no leaders group bound; sent to directors", month)
                for director in await people.active_directors(session):
                    t_ = translator(language_of(director, language))
                    text = repair_report.report_text(kpis, month, profile, t_)
                    note = t_(
                        "No leaders group is bound (/bind leaders in the group), so this "
                        "report was sent to you only."
                    )
                    await queue_long(
                        session,
                        services,
                        key=f"{key}:director:{director.id}",
                        chat_id=director.telegram_id,
                        text=f"{text}\n\n{note}",
                    )
            record = {"chart_sent": False}
            await ticket_kpis.record_report(session, month, record, now=services.now())
            created = True
    await outbox.deliver(bot, services)
    chart_sent = await send_chart_once(bot, services, month)
    return Posted(month, created=created, chart_sent=chart_sent, kpis=kpis)


async def send_chart_once(bot: Bot, services: Services, month: Month) -> bool:
    """Post the month's chart to the leaders' group unless it was; True when posted now or
    before."""
    async with services.database.reading() as session:
        record = await ticket_kpis.report_record(session, month)
        group = await groups.group_for(session, GroupPurpose.LEADERS)
        if record is None or record.get("chart_sent") is not False or group is None:
            return record is not None and record.get("chart_sent") is True
        kpis = await ticket_kpis.month_kpis(session, month, services.profile, now=services.now())
    t_ = translator(services.settings.language.value)
    png = await asyncio.to_thread(
        repair_report.chart_png,
        kpis,
        month,
        services.profile,
        t_,
        services.settings.chart_font_path,
    )
    if png is None:
        async with services.database.transaction() as session:
            await ticket_kpis.record_report(
                session, month, {"chart_sent": "none"}, now=services.now()
            )
        return False
    caption = repair_report.chart_caption(month, services.profile, t_)
    try:
        await bot.send_photo(group.chat_id, photo=png, caption=caption)
    except TelegramError as exc:
        log.warning("repair report chart of %s not sent (will retry): %s", month, exc)
        return False
    async with services.database.transaction() as session:
        await ticket_kpis.record_report(session, month, {"chart_sent": True}, now=services.now())
    return True
