"""Appraisal (考评): /myscore, /bonus, /deduct, /incident, /appraisal and /export (the /rate
walk is in handlers.appraisal_rate).

Thin handlers: the rules live in storage.appraisal, publishing in actions.appraisal, the texts
in notices.appraisal and the workbook in notices.appraisal_export. Every command and button
checks the role on the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler

from actions import appraisal as actions
from handlers import appraisal_rate
from handlers.appraisal_common import default_month, local_today, parse_period, private_only
from handlers.buttons import on_button
from handlers.common import allowed_press, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import Form
from handlers.menu import menu_filter
from notices.appraisal import (
    AppraisalButton,
    AppraisalMove,
    breakdown_text,
    chart_png,
    period_label,
    preview_keyboard,
    publish_keyboard,
    ranking_text,
)
from notices.appraisal_export import appraisal_workbook, export_filename
from notices.render import edit_or_ignore, esc, send_long
from storage import appraisal
from storage.appraisal import Period, PersonInfo, PersonResult
from storage.models import Role
from storage.stats import Month

log = logging.getLogger(__name__)

POINTS_PATTERN = re.compile(r"^[+-]?\d{1,3}(?:\.\d{1,2})?$")
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_PATTERN = re.compile(r"^\d{4}-\d{1,2}$")


# --- /myscore --------------------------------------------------------------------------------


async def myscore(update: Update, context: HouqinContext) -> None:
    """/myscore [2026-10]: one's own breakdown (published, or preliminary)."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None or not await private_only(update, context):
        return
    _ = context._
    period = parse_period(context, context.args[0] if context.args else None)
    if period is None:
        await reply(
            update,
            context,
            _("Which period? Send /myscore 2026-10 (a month), 2026-Q4 or 2026; not a future one."),
        )
        return
    if appraisal.appraised_post(context.services.profile, person.post_key) is None:
        await reply(update, context, _("Your post does not take part in the appraisal."))
        return
    result, version, correction = await actions.period_result(
        context.services, period, today=local_today(context)
    )
    assert person.id is not None
    row = result.of(person.id) or PersonResult(
        person=PersonInfo(person.id, person.name), total=None
    )
    text = breakdown_text(
        row,
        result,
        period,
        _,
        version=version,
        correction=correction,
        cap_percent=context.services.profile.appraisal.excellent_cap * 100,
    )
    chat = update.effective_chat
    assert chat is not None
    await send_long(context.bot, chat.id, text)


# --- /bonus, /deduct, /incident ---------------------------------------------------------------


async def _find_one(update: Update, context: HouqinContext, name: str) -> PersonInfo | None:
    _ = context._
    async with context.services.database.transaction() as session:
        found = await appraisal.find_appraised(session, context.services.profile, name)
    if len(found) == 1:
        return found[0]
    if not found:
        await reply(
            update,
            context,
            _("Nobody appraised is called {name}.").format(name=esc(name)),
        )
    else:
        await reply(
            update,
            context,
            _("Several people match {name}: {names}. Use the full name.").format(
                name=esc(name), names="、".join(esc(p.name) for p in found)
            ),
        )
    return None


async def _appraised_with_reason(
    update: Update, context: HouqinContext, name: str, reason: str
) -> PersonInfo | None:
    """The one appraised person called `name`, for a bonus, deduction or incident with this
    reason; None when the reason is too long or the name is not one person's (told why)."""
    if len(reason) > appraisal.MAX_REASON:
        await reply(
            update,
            context,
            context._("The reason is too long (at most {limit} characters).").format(
                limit=appraisal.MAX_REASON
            ),
        )
        return None
    return await _find_one(update, context, name)


def _published_before(month: Month, _: Callable[[str], str]) -> str:
    """The note under a bonus, deduction or incident recorded in a month already published."""
    return _(
        "{period} is already published: it counts once you publish a correction "
        "(/appraisal publish {period})."
    ).format(period=str(month))


async def _adjust(update: Update, context: HouqinContext, *, bonus: bool) -> None:
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await private_only(update, context):
        return
    _ = context._
    usage = (
        esc(_("Send: /bonus <name> +2 [2026-10] <reason>"))
        if bonus
        else esc(_("Send: /deduct <name> 3 [2026-10] <reason>"))
    )
    args = list(context.args or [])
    if len(args) < 3 or not POINTS_PATTERN.match(args[1]):
        await reply(update, context, usage)
        return
    name, raw_points, rest = args[0], args[1], args[2:]
    month = Month.of(local_today(context))
    if rest and MONTH_PATTERN.match(rest[0]):
        period = parse_period(context, rest[0])
        if period is None or period.kind != "month":
            await reply(update, context, usage)
            return
        month, rest = period.month, rest[1:]
    reason = " ".join(rest).strip()
    points = abs(float(raw_points)) * (1 if bonus else -1)
    if not reason or points == 0 or abs(points) > appraisal.MAX_ADJUSTMENT:
        await reply(update, context, usage)
        return
    person = await _appraised_with_reason(update, context, name, reason)
    if person is None:
        return
    published = await actions.adjust(
        context.services,
        person_id=person.id,
        month=month,
        points=points,
        reason=reason,
        by=director,
    )
    text = _("Recorded for {name}, {period}: {points} points ({reason}).").format(
        name=esc(person.name),
        period=esc(period_label(Period.of_month(month), _)),
        points=f"{points:+g}",
        reason=esc(reason),
    )
    if published:
        text += "\n" + _published_before(month, _)
    await reply(update, context, text)


async def bonus(update: Update, context: HouqinContext) -> None:
    """/bonus <name> +2 [2026-10] <reason>"""
    await _adjust(update, context, bonus=True)


async def deduct(update: Update, context: HouqinContext) -> None:
    """/deduct <name> 3 [2026-10] <reason>"""
    await _adjust(update, context, bonus=False)


async def incident(update: Update, context: HouqinContext) -> None:
    """/incident <name> [2026-10-15] <reason>: a safety incident vetoes the month."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await private_only(update, context):
        return
    _ = context._
    usage = esc(_("Send: /incident <name> [2026-10-15] <reason>"))
    args = list(context.args or [])
    if len(args) < 2:
        await reply(update, context, usage)
        return
    name, rest = args[0], args[1:]
    today = local_today(context)
    day = today
    if DAY_PATTERN.match(rest[0]):
        try:
            day = date.fromisoformat(rest[0])
        except ValueError:
            await reply(update, context, usage)
            return
        rest = rest[1:]
    reason = " ".join(rest).strip()
    if not reason or day > today:
        await reply(update, context, usage)
        return
    person = await _appraised_with_reason(update, context, name, reason)
    if person is None:
        return
    month = Month.of(day)
    published = await actions.record_incident(
        context.services, person_id=person.id, day=day, reason=reason, by=director
    )
    lowest = context.services.profile.appraisal.lowest_grade.name
    text = _(
        "Safety incident recorded for {name} on {day}: {reason}. Their appraisal of {period} "
        "is {grade} (veto)."
    ).format(
        name=esc(person.name),
        day=day.isoformat(),
        reason=esc(reason),
        period=esc(period_label(Period.of_month(month), _)),
        grade=esc(lowest),
    )
    if not context.services.profile.appraisal.incident_veto:
        text = _("Safety incident recorded for {name} on {day}: {reason}.").format(
            name=esc(person.name), day=day.isoformat(), reason=esc(reason)
        )
    if published:
        text += "\n" + _published_before(month, _)
    await reply(update, context, text)


# --- /appraisal preview|publish ----------------------------------------------------------------


async def appraisal_command(update: Update, context: HouqinContext) -> None:
    """/appraisal [preview|publish] [2026-10] (director)."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await private_only(update, context):
        return
    _ = context._
    args = list(context.args or [])  # none for the menu button
    action = args[0].lower() if args else ""
    if action not in ("preview", "publish"):
        default = default_month(context)
        await reply(
            update,
            context,
            _(
                "Appraisal: /appraisal preview 2026-10 shows a period's results (month, 2026-Q4 "
                "or 2026) without publishing; /appraisal publish 2026-10 publishes it, as a "
                "correction when it was published before."
            ),
            reply_markup=preview_keyboard(Period.of_month(default), _),
        )
        return
    period = parse_period(context, args[1] if len(args) > 1 else None)
    if period is None:
        await reply(
            update, context, _("Which period? Use 2026-10, 2026-Q4 or 2026, not a future one.")
        )
        return
    if action == "preview":
        await _preview(update, context, period)
    else:
        await _publish(update, context, period)


async def _preview(update: Update, context: HouqinContext, period: Period) -> None:
    _ = context._
    services = context.services
    async with services.database.transaction() as session:
        latest = await appraisal.latest_snapshot(session, str(period))
        _inputs, result = await appraisal.compute_period(
            session, period, services.profile, today=local_today(context)
        )
    text = ranking_text(result, period, services.profile, _, preview=True)
    version = latest.version if latest is not None else 0
    if latest is not None:
        text += "\n\n" + _("Published before as version {version}.").format(version=version)
    markup = None
    if period.last_day < local_today(context):
        markup = publish_keyboard(period, version, _)
    else:
        text += "\n" + _("The period has not ended yet; it can be published after it ends.")
    chat = update.effective_chat
    assert chat is not None
    await send_long(context.bot, chat.id, text, markup)
    png = await asyncio.to_thread(
        chart_png,
        result,
        period,
        services.profile,
        _,
        services.settings.chart_font_path,
    )
    if png is not None:
        await context.bot.send_photo(chat.id, photo=png)


async def _publish(
    update: Update, context: HouqinContext, period: Period, *, expected_version: int | None = None
) -> None:
    _ = context._
    services = context.services
    if period.last_day >= local_today(context):
        await reply(
            update,
            context,
            _("{period} has not ended yet; it can be published after it ends.").format(
                period=period_label(period, _)
            ),
        )
        return
    async with services.database.transaction() as session:
        latest = await appraisal.latest_snapshot(session, str(period))
    version = latest.version if latest is not None else 0
    if expected_version is not None and version != expected_version:
        await reply(
            update,
            context,
            _("Already published as version {version}; nothing was changed.").format(
                version=version
            ),
        )
        return
    try:
        outcome = await actions.publish(
            context.bot, services, period, correction=latest is not None, by=context.person
        )
    except appraisal.AlreadyPublished:
        await reply(
            update, context, _("Someone published it at the same moment; nothing was changed.")
        )
        return
    except actions.NobodyAppraised:
        await reply(
            update,
            context,
            _("Nobody was appraised in {period}: there is nothing to publish.").format(
                period=period_label(period, _)
            ),
        )
        return
    if outcome.correction:
        text = _("Correction published for {period} (version {version}).")
    else:
        text = _("Published {period}.")
    text = text.format(period=period_label(period, _), version=outcome.version)
    if not outcome.posted_to_group:
        text += "\n" + _("No staff group is bound, so the results were sent to you only.")
    await reply(update, context, text)


async def appraisal_button(update: Update, context: HouqinContext, data: AppraisalButton) -> None:
    """Preview and publish buttons (director; the period is checked again: a forged 2026-13 or
    a month not begun is refused)."""
    query = await allowed_press(update, context, {Role.DIRECTOR})
    if query is None:
        return
    period = parse_period(context, data.period)
    if period is None:
        await query.answer(context._("This button has expired. Send /appraisal again."))
        return
    if data.move == AppraisalMove.PREVIEW:
        await query.answer()
        await _preview(update, context, period)
        return
    await edit_or_ignore(query.edit_message_reply_markup(None))
    await _publish(update, context, period, expected_version=data.seen_version)


# --- /export ---------------------------------------------------------------------------------


async def export_command(update: Update, context: HouqinContext) -> None:
    """/export [2026-10] (director): the month, quarter and year to date as .xlsx (the
    default kind of /export, handlers.exports)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    if not await private_only(update, context):
        return
    _ = context._
    period = parse_period(context, context.args[0] if context.args else None)
    if period is None or period.kind != "month":
        await reply(update, context, _("Which month? Send /export 2026-10 (not a future month)."))
        return
    services = context.services
    async with services.database.transaction() as session:
        data, result, published = await appraisal_workbook(
            session, services.profile, period.month, _, today=local_today(context)
        )
    message = update.effective_message
    assert message is not None
    caption = _("Appraisal of {period}: {count} people.").format(
        period=period_label(period, _), count=len(result.ranked)
    )
    if not published:
        caption += " " + _("Not published yet: computed now.")
    await message.reply_document(
        document=data, filename=export_filename(period.month, _), caption=caption
    )


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
    application.add_handler(CommandHandler("myscore", myscore))
    application.add_handler(MessageHandler(menu_filter("myscore"), myscore))
    application.add_handler(CommandHandler("bonus", bonus))
    application.add_handler(CommandHandler("deduct", deduct))
    application.add_handler(CommandHandler("incident", incident))
    application.add_handler(CommandHandler("appraisal", appraisal_command))
    application.add_handler(MessageHandler(menu_filter("appraisal"), appraisal_command))
    application.add_handler(on_button(AppraisalButton, appraisal_button))
    appraisal_rate.register(application)


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms): the director's /rate walk."""
    return appraisal_rate.forms()
