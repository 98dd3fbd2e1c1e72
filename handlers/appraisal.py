"""Appraisal (考评): /myscore, /rate, /bonus, /deduct, /incident, /appraisal and /export.

Thin handlers: the rules live in storage.appraisal, publishing in actions.appraisal, the texts
in notices.appraisal and the workbook in notices.appraisal_export. Every command and button
checks the role on the server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, Message, Update
from telegram.constants import ParseMode
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from actions import appraisal as actions
from handlers.common import private_chat, reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import Form
from handlers.menu import menu_filter
from notices.appraisal import breakdown_text, chart_png, period_label, ranking_text
from notices.appraisal_export import appraisal_workbook, export_filename
from notices.render import button, esc, keyboard, split_text
from storage import appraisal
from storage.appraisal import Period, PersonInfo, PersonResult
from storage.models import Role
from storage.stats import Month

log = logging.getLogger(__name__)

RATING = 0
FORM_KEY = "appraisal_rate"
QUICK_SCORES = (100, 95, 90, 85, 80, 70, 60)
SCORE_PATTERN = re.compile(r"^\s*(\d{1,3}(?:\.\d)?)\s*(分)?\s*$")
POINTS_PATTERN = re.compile(r"^[+-]?\d{1,3}(?:\.\d{1,2})?$")
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_PATTERN = re.compile(r"^\d{4}-\d{1,2}$")


# --- helpers ---------------------------------------------------------------------------------


def _local_today(context: HouqinContext) -> date:
    return context.services.local_now().date()


def _default_month(context: HouqinContext) -> Month:
    return Month.of(_local_today(context)).previous()


def _parse_period(context: HouqinContext, text: str | None) -> Period | None:
    if not text:
        return Period.of_month(_default_month(context))
    try:
        period = Period.parse(text)
    except ValueError:
        return None
    if period.months[0].first_day > _local_today(context):
        return None
    return period


async def _private_only(update: Update, context: HouqinContext) -> bool:
    if private_chat(update):
        return True
    await reply(update, context, context._("Please use this in a private chat with me."))
    return False


async def _send_long(
    update: Update,
    context: HouqinContext,
    text: str,
    markup: Any = None,
) -> None:
    chunks = split_text(text)
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        await reply(
            update,
            context,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if last else None,
        )


# --- /myscore --------------------------------------------------------------------------------


async def myscore(update: Update, context: HouqinContext) -> None:
    """/myscore [2026-10]: one's own breakdown (published, or preliminary)."""
    person = await require_role(update, context, {Role.STAFF})
    if person is None or not await _private_only(update, context):
        return
    _ = context._
    period = _parse_period(context, context.args[0] if context.args else None)
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
        context.services, period, today=_local_today(context)
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
    await _send_long(update, context, text)


# --- /rate -----------------------------------------------------------------------------------


def _form(context: HouqinContext) -> dict[str, Any] | None:
    data = context.user_data.get(FORM_KEY) if context.user_data is not None else None
    return data if isinstance(data, dict) else None


def _end_form(context: HouqinContext) -> None:
    if context.user_data is not None:
        context.user_data.pop(FORM_KEY, None)


async def _ask_next(update: Update, context: HouqinContext) -> int:
    """Show the current person of the walk, or finish."""
    _ = context._
    form = _form(context)
    chat = update.effective_chat
    assert chat is not None
    if form is None:
        return ConversationHandler.END
    ids: list[int] = form["ids"]
    index: int = form["index"]
    month = Month.parse(form["period"])
    if index >= len(ids):
        _end_form(context)
        text = _("Leader's scores for {period}: {saved} given, {skipped} skipped.").format(
            period=esc(period_label(Period.of_month(month), _)),
            saved=form["saved"],
            skipped=form["skipped"],
        )
        async with context.services.database.transaction() as session:
            published = await appraisal.latest_snapshot(session, str(month))
        if published is not None:
            text += "\n" + _(
                "{period} is already published: to include the new scores, publish a correction "
                "with /appraisal publish {period}."
            ).format(period=str(month))
        else:
            text += "\n" + _("Preview the results: /appraisal preview {period}").format(
                period=str(month)
            )
        await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
        return ConversationHandler.END
    person_id = ids[index]
    async with context.services.database.transaction() as session:
        people = {
            p.id: p for p in await appraisal.appraised_people(session, context.services.profile)
        }
        scores = await appraisal.leader_scores(session, month)
    person = people.get(person_id)
    if person is None:  # no longer appraised: skip them
        form["index"] = index + 1
        return await _ask_next(update, context)
    current = scores.get(person_id)
    lines = [
        _("Leader's evaluation, {period} · {index}/{count}").format(
            period=esc(period_label(Period.of_month(month), _)), index=index + 1, count=len(ids)
        ),
        f"<b>{esc(person.name)}</b>（{esc(person.post_name)}）",
        _("Current score: {score}").format(score=f"{current:g}")
        if current is not None
        else _("No score yet."),
        _("Press a score or type one from 0 to 100. Skip keeps it as it is; /cancel stops."),
    ]
    prefix = f"aprr:{month}:{person_id}"
    quick = [button(str(s), f"{prefix}:{s}") for s in QUICK_SCORES]
    rows: list[list[InlineKeyboardButton]] = [
        quick[:4],
        quick[4:],
        [button(_("Skip"), f"{prefix}:skip")],
    ]
    await context.bot.send_message(
        chat.id, "\n".join(lines), parse_mode=ParseMode.HTML, reply_markup=keyboard(rows)
    )
    return RATING


async def rate_start(update: Update, context: HouqinContext) -> int:
    """/rate [2026-10] (director): walk the appraised staff, one score each."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await _private_only(update, context):
        return ConversationHandler.END
    _ = context._
    period = _parse_period(context, context.args[0] if context.args else None)
    if period is None or period.kind != "month":
        await reply(update, context, _("Which month? Send /rate 2026-10 (not a future month)."))
        return ConversationHandler.END
    async with context.services.database.transaction() as session:
        people = await appraisal.appraised_people(session, context.services.profile)
    if not people:
        await reply(update, context, _("Nobody takes part in the appraisal yet."))
        return ConversationHandler.END
    if context.user_data is not None:
        context.user_data[FORM_KEY] = {
            "period": str(period),
            "ids": [p.id for p in people],
            "index": 0,
            "saved": 0,
            "skipped": 0,
        }
    return await _ask_next(update, context)


async def _save_score(update: Update, context: HouqinContext, person_id: int, score: float) -> None:
    form = _form(context)
    assert form is not None and context.person is not None
    async with context.services.database.transaction() as session:
        await appraisal.set_leader_score(
            session,
            person_id=person_id,
            period=Month.parse(form["period"]),
            score=score,
            given_by_id=context.person.id,
            now=context.services.now(),
        )
    form["saved"] += 1
    form["index"] += 1


async def rate_button(update: Update, context: HouqinContext) -> int | None:
    """A score (or skip) button of the walk."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return None
    _ = context._
    _prefix, period, raw_id, value = query.data.split(":")
    form = _form(context)
    person_id = int(raw_id)
    if (
        form is None
        or form["period"] != period
        or form["index"] >= len(form["ids"])
        or form["ids"][form["index"]] != person_id
    ):
        await query.answer(_("This button is from an earlier step."), show_alert=True)
        return None
    if value == "skip":
        form["skipped"] += 1
        form["index"] += 1
        await query.answer(_("Skipped."))
        done = _("Skipped.")
    else:
        await _save_score(update, context, person_id, float(value))
        await query.answer(_("Saved: {score}").format(score=value))
        done = _("Saved: {score}").format(score=value)
    message = query.message
    if isinstance(message, Message) and message.text_html:
        await query.edit_message_text(
            f"{message.text_html}\n✅ {esc(done)}", parse_mode=ParseMode.HTML
        )
    return await _ask_next(update, context)


async def rate_typed(update: Update, context: HouqinContext) -> int | None:
    """A typed score for the current person."""
    message = update.effective_message
    assert message is not None
    _ = context._
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        _end_form(context)
        return ConversationHandler.END
    form = _form(context)
    if form is None or form["index"] >= len(form["ids"]):
        _end_form(context)
        return ConversationHandler.END
    match = SCORE_PATTERN.match(message.text or "")
    score = float(match.group(1)) if match else -1.0
    if not 0 <= score <= 100:
        await reply(
            update, context, _("Please type a score from 0 to 100, press a button, or /cancel.")
        )
        return None
    await _save_score(update, context, form["ids"][form["index"]], score)
    await reply(update, context, _("Saved: {score}").format(score=f"{score:g}"))
    return await _ask_next(update, context)


async def rate_other(update: Update, context: HouqinContext) -> None:
    """A sticker, photo or voice where a score is expected."""
    await reply(
        update, context, context._("Please type a score from 0 to 100, press a button, or /cancel.")
    )


async def rate_cancel(update: Update, context: HouqinContext) -> int:
    """/cancel inside the walk: the scores given so far stay saved."""
    form = _form(context)
    _end_form(context)
    saved = form["saved"] if form else 0
    await reply(
        update,
        context,
        context._("Stopped. The {saved} scores given so far are saved.").format(saved=saved),
    )
    return ConversationHandler.END


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
            parse_mode=ParseMode.HTML,
        )
    else:
        await reply(
            update,
            context,
            _("Several people match {name}: {names}. Use the full name.").format(
                name=esc(name), names="、".join(esc(p.name) for p in found)
            ),
            parse_mode=ParseMode.HTML,
        )
    return None


async def _adjust(update: Update, context: HouqinContext, *, bonus: bool) -> None:
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await _private_only(update, context):
        return
    _ = context._
    usage = (
        _("Send: /bonus <name> +2 [2026-10] <reason>")
        if bonus
        else _("Send: /deduct <name> 3 [2026-10] <reason>")
    )
    args = list(context.args or [])
    if len(args) < 3 or not POINTS_PATTERN.match(args[1]):
        await reply(update, context, usage)
        return
    name, raw_points, rest = args[0], args[1], args[2:]
    month = Month.of(_local_today(context))
    if rest and MONTH_PATTERN.match(rest[0]):
        period = _parse_period(context, rest[0])
        if period is None or period.kind != "month":
            await reply(update, context, usage)
            return
        month, rest = period.month, rest[1:]
    reason = " ".join(rest).strip()
    points = abs(float(raw_points)) * (1 if bonus else -1)
    if not reason or points == 0 or abs(points) > appraisal.MAX_ADJUSTMENT:
        await reply(update, context, usage)
        return
    if len(reason) > appraisal.MAX_REASON:
        await reply(
            update,
            context,
            _("The reason is too long (at most {limit} characters).").format(
                limit=appraisal.MAX_REASON
            ),
        )
        return
    person = await _find_one(update, context, name)
    if person is None:
        return
    async with context.services.database.transaction() as session:
        await appraisal.add_adjustment(
            session,
            person_id=person.id,
            period=month,
            points=points,
            reason=reason,
            given_by_id=director.id,
            now=context.services.now(),
        )
        published = await appraisal.latest_snapshot(session, str(month))
    text = _("Recorded for {name}, {period}: {points} points ({reason}).").format(
        name=esc(person.name),
        period=esc(period_label(Period.of_month(month), _)),
        points=f"{points:+g}",
        reason=esc(reason),
    )
    if published is not None:
        text += "\n" + _(
            "{period} is already published: it counts once you publish a correction "
            "(/appraisal publish {period})."
        ).format(period=str(month))
    await reply(update, context, text, parse_mode=ParseMode.HTML)


async def bonus(update: Update, context: HouqinContext) -> None:
    """/bonus <name> +2 [2026-10] <reason>"""
    await _adjust(update, context, bonus=True)


async def deduct(update: Update, context: HouqinContext) -> None:
    """/deduct <name> 3 [2026-10] <reason>"""
    await _adjust(update, context, bonus=False)


async def incident(update: Update, context: HouqinContext) -> None:
    """/incident <name> [2026-10-15] <reason>: a safety incident vetoes the month."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await _private_only(update, context):
        return
    _ = context._
    usage = _("Send: /incident <name> [2026-10-15] <reason>")
    args = list(context.args or [])
    if len(args) < 2:
        await reply(update, context, usage)
        return
    name, rest = args[0], args[1:]
    today = _local_today(context)
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
    if len(reason) > appraisal.MAX_REASON:
        await reply(
            update,
            context,
            _("The reason is too long (at most {limit} characters).").format(
                limit=appraisal.MAX_REASON
            ),
        )
        return
    person = await _find_one(update, context, name)
    if person is None:
        return
    month = Month.of(day)
    async with context.services.database.transaction() as session:
        await appraisal.record_incident(
            session,
            person_id=person.id,
            occurred_on=day,
            reason=reason,
            recorded_by_id=director.id,
            now=context.services.now(),
        )
        published = await appraisal.latest_snapshot(session, str(month))
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
    if published is not None:
        text += "\n" + _(
            "{period} is already published: it counts once you publish a correction "
            "(/appraisal publish {period})."
        ).format(period=str(month))
    await reply(update, context, text, parse_mode=ParseMode.HTML)


# --- /appraisal preview|publish ----------------------------------------------------------------


async def appraisal_command(update: Update, context: HouqinContext) -> None:
    """/appraisal [preview|publish] [2026-10] (director)."""
    director = await require_role(update, context, {Role.DIRECTOR})
    if director is None or not await _private_only(update, context):
        return
    _ = context._
    args = list(context.args or [])  # none for the menu button
    action = args[0].lower() if args else ""
    if action not in ("preview", "publish"):
        default = _default_month(context)
        await reply(
            update,
            context,
            _(
                "Appraisal: /appraisal preview 2026-10 shows a period's results (month, 2026-Q4 "
                "or 2026) without publishing; /appraisal publish 2026-10 publishes it, as a "
                "correction when it was published before."
            ),
            reply_markup=keyboard(
                [
                    [
                        button(
                            _("Preview {period}").format(
                                period=period_label(Period.of_month(default), _)
                            ),
                            f"apr:pv:{default}",
                        )
                    ]
                ]
            ),
        )
        return
    period = _parse_period(context, args[1] if len(args) > 1 else None)
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
            session, period, services.profile, today=_local_today(context)
        )
    text = ranking_text(result, period, services.profile, _, preview=True)
    version = latest.version if latest is not None else 0
    if latest is not None:
        text += "\n\n" + _("Published before as version {version}.").format(version=version)
    rows = []
    if period.last_day < _local_today(context):
        label = _("Publish a correction") if latest is not None else _("Publish")
        rows.append([button(label, f"apr:pub:{period}:{version}")])
    else:
        text += "\n" + _("The period has not ended yet; it can be published after it ends.")
    chat = update.effective_chat
    assert chat is not None
    for index, chunk in enumerate(chunks := split_text(text)):
        await context.bot.send_message(
            chat.id,
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(rows) if rows and index == len(chunks) - 1 else None,
        )
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
    if period.last_day >= _local_today(context):
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
    if outcome.correction:
        text = _("Correction published for {period} (version {version}).")
    else:
        text = _("Published {period}.")
    text = text.format(period=period_label(period, _), version=outcome.version)
    if not outcome.posted_to_group:
        text += "\n" + _("No staff group is bound, so the results were sent to you only.")
    await reply(update, context, text)


async def appraisal_button(update: Update, context: HouqinContext) -> None:
    """Preview and publish buttons."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    parts = query.data.split(":")
    period = _parse_period(context, parts[2])
    if period is None:
        await query.answer(context._("This button has expired. Send /appraisal again."))
        return
    if parts[1] == "pv":
        await query.answer()
        await _preview(update, context, period)
        return
    if query.message is not None:
        await query.edit_message_reply_markup(None)
    await _publish(update, context, period, expected_version=int(parts[3]))


# --- /export ---------------------------------------------------------------------------------


async def export_command(update: Update, context: HouqinContext) -> None:
    """/export [2026-10] (director): the month, quarter and year to date as .xlsx."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    if not await _private_only(update, context):
        return
    _ = context._
    period = _parse_period(context, context.args[0] if context.args else None)
    if period is None or period.kind != "month":
        await reply(update, context, _("Which month? Send /export 2026-10 (not a future month)."))
        return
    services = context.services
    async with services.database.transaction() as session:
        data, result, published = await appraisal_workbook(
            session, services.profile, period.month, _, today=_local_today(context)
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
    score_reply = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # per_message=False is intended: the walk is per director in their private chat, and
        # every button names the month and the person it is for.
        warnings.simplefilter("ignore", PTBUserWarning)
        rate = ConversationHandler(
            entry_points=[CommandHandler("rate", rate_start)],
            states={
                RATING: [
                    CallbackQueryHandler(rate_button, pattern=r"^aprr:\d{4}-\d{2}:\d+:(\d+|skip)$"),
                    MessageHandler(score_reply, rate_typed),
                    MessageHandler(
                        filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
                        rate_other,
                    ),
                ]
            },
            fallbacks=[CommandHandler("cancel", rate_cancel)],
            name="appraisal_rate",
            persistent=True,
            allow_reentry=True,
        )
    application.add_handler(rate)
    application.add_handler(CommandHandler("myscore", myscore))
    application.add_handler(MessageHandler(menu_filter("myscore"), myscore))
    application.add_handler(CommandHandler("bonus", bonus))
    application.add_handler(CommandHandler("deduct", deduct))
    application.add_handler(CommandHandler("incident", incident))
    application.add_handler(CommandHandler("appraisal", appraisal_command))
    application.add_handler(MessageHandler(menu_filter("appraisal"), appraisal_command))
    application.add_handler(CommandHandler("export", export_command))
    application.add_handler(
        CallbackQueryHandler(
            appraisal_button,
            pattern=r"^apr:(pv:\d{4}(-\d{2}|-Q[1-4])?|pub:\d{4}(-\d{2}|-Q[1-4])?:\d+)$",
        )
    )


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms); none moved there yet."""
    return []
