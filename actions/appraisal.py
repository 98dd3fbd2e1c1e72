"""Appraisal (考评) use cases: publish a period (once, or a correction 更正) and the director's
own inputs (leader's score, bonus or deduction, safety incident).

Publication freezes the period's results as a snapshot and queues the ranking for the staff
group in ONE transaction: the first publication stores version 1, so a second call (the job
firing twice, a restart, the catch-up) finds it there and posts nothing new. A correction
stores version N+1, marked 更正, and posts again. The chart image is sent right after the
commit (the outbox carries text and known file ids only); the snapshot records that it was
sent, so it is posted once as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot
from telegram.error import TelegramError

from notices import outbox
from notices.appraisal import (
    chart_caption,
    chart_png,
    group_language,
    queue_publication,
    ranking_text,
)
from notices.services import Services
from school.i18n import translator
from storage import appraisal, groups
from storage.appraisal import AppraisalResult, Period
from storage.models import AppraisalSnapshot, GroupPurpose, Person
from storage.stats import Month

log = logging.getLogger(__name__)


@dataclass
class Publication:
    """What a publish call did."""

    period: Period
    version: int
    created: bool  # False: the period was already published (nothing new stored)
    correction: bool
    posted_to_group: bool
    chart_sent: bool
    result: AppraisalResult


class NotEnded(Exception):
    """The period has not ended yet: it cannot be published."""


class NobodyAppraised(Exception):
    """Nobody was appraised in the period (it is before the school used the bot): there is
    nothing to publish, and nothing is stored."""


async def publish(
    bot: Bot,
    services: Services,
    period: Period,
    *,
    correction: bool = False,
    by: Person | None = None,
) -> Publication:
    """Publish a period once (or a correction as a new version); post the text and the chart.

    Without ``correction`` an existing snapshot is left as it is (its chart is sent if it was
    not yet). With it, a new version is stored and posted, marked 更正 (the very first version
    of a period is never marked). Raises NotEnded, or storage's AlreadyPublished when someone
    stored the same version at the same moment.
    """
    profile = services.profile
    today = services.local_now().date()
    if period.last_day >= today:
        raise NotEnded(str(period))
    t_ = translator(group_language(services))
    async with services.database.transaction() as session:
        latest = await appraisal.latest_snapshot(session, str(period))
        if latest is not None and not correction:
            snapshot, created = latest, False
        else:
            version = latest.version + 1 if latest is not None else 1
            inputs, result = await appraisal.compute_period(session, period, profile, today=today)
            if latest is None and not result.ranked:
                raise NobodyAppraised(str(period))
            data = {
                "inputs": inputs,
                "result": appraisal.result_to_data(result),
                "correction": version > 1,
                "published_by": by.id if by is not None else None,
                "chart_sent": False,
            }
            snapshot = await appraisal.store_snapshot(
                session, period=period, data=data, now=services.now(), version=version
            )
            created = True
            text = ranking_text(result, period, profile, t_, correction=version > 1)
            await queue_publication(session, services, snapshot, text)
    await outbox.deliver(bot, services)
    chart_sent = await send_chart_once(bot, services, snapshot)
    async with services.database.transaction() as session:
        group = await groups.group_for(session, GroupPurpose.STAFF)
    return Publication(
        period=period,
        version=snapshot.version,
        created=created,
        correction=bool(snapshot.data.get("correction")),
        posted_to_group=group is not None,
        chart_sent=chart_sent,
        result=appraisal.snapshot_result(snapshot),
    )


async def send_chart_once(bot: Bot, services: Services, snapshot: AppraisalSnapshot) -> bool:
    """Post the snapshot's chart to the staff group unless it was posted; True when posted."""
    assert snapshot.id is not None
    async with services.database.transaction() as session:
        current = await session.get(AppraisalSnapshot, snapshot.id)
        group = await groups.group_for(session, GroupPurpose.STAFF)
    if current is None or current.data.get("chart_sent") or group is None:
        return bool(current is not None and current.data.get("chart_sent") is True)
    period = Period.parse(current.period)
    result = appraisal.snapshot_result(current)
    t_ = translator(group_language(services))
    png = await asyncio.to_thread(
        chart_png, result, period, services.profile, t_, services.settings.chart_font_path
    )
    if png is None:
        async with services.database.transaction() as session:
            await appraisal.update_snapshot_data(session, snapshot.id, {"chart_sent": "none"})
        return False
    caption = chart_caption(
        period, services.profile, t_, correction=bool(current.data.get("correction"))
    )
    try:
        await bot.send_photo(group.chat_id, photo=png, caption=caption)
    except TelegramError as exc:
        log.warning("appraisal chart of %s not sent (will retry): %s", current.period, exc)
        return False
    async with services.database.transaction() as session:
        await appraisal.update_snapshot_data(session, snapshot.id, {"chart_sent": True})
    return True


async def period_result(
    services: Services, period: Period, *, today: date
) -> tuple[AppraisalResult, int, bool]:
    """(result, version, correction): the latest published snapshot, else computed now (v0)."""
    async with services.database.transaction() as session:
        snapshot = await appraisal.latest_snapshot(session, str(period))
        if snapshot is not None and snapshot.published_at is not None:
            return (
                appraisal.snapshot_result(snapshot),
                snapshot.version,
                bool(snapshot.data.get("correction")),
            )
        _inputs, result = await appraisal.compute_period(
            session, period, services.profile, today=today
        )
    return result, 0, False


# --- the director's inputs -------------------------------------------------------------------


async def _record_for(
    services: Services, month: Month, write: Callable[[AsyncSession, datetime], Awaitable[object]]
) -> bool:
    """One of the director's inputs for a month, written in one transaction; True when the
    month is already published (it then counts once a correction is published)."""
    async with services.database.transaction() as session:
        await write(session, services.now())
        return await appraisal.latest_snapshot(session, str(month)) is not None


async def give_leader_score(
    services: Services, *, person_id: int, month: Month, score: float, by: Person
) -> bool:
    """The director's score (0-100) of a person for a month; True when the month is published."""
    return await _record_for(
        services,
        month,
        lambda session, now: appraisal.set_leader_score(
            session, person_id=person_id, period=month, score=score, given_by_id=by.id, now=now
        ),
    )


async def is_published(services: Services, period: Period | Month) -> bool:
    """Whether a version of the period has been published (a change then needs a correction)."""
    async with services.database.reading() as session:
        return await appraisal.latest_snapshot(session, str(period)) is not None


async def adjust(
    services: Services, *, person_id: int, month: Month, points: float, reason: str, by: Person
) -> bool:
    """Record a signed bonus or deduction; True when the month is already published."""
    return await _record_for(
        services,
        month,
        lambda session, now: appraisal.add_adjustment(
            session,
            person_id=person_id,
            period=month,
            points=points,
            reason=reason,
            given_by_id=by.id,
            now=now,
        ),
    )


async def record_incident(
    services: Services, *, person_id: int, day: date, reason: str, by: Person
) -> bool:
    """Record a safety incident; True when its month is already published."""
    return await _record_for(
        services,
        Month.of(day),
        lambda session, now: appraisal.record_incident(
            session,
            person_id=person_id,
            occurred_on=day,
            reason=reason,
            recorded_by_id=by.id,
            now=now,
        ),
    )
