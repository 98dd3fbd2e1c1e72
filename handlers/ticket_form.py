"""The report form (报修): /report, the 我要报修 button, t.me/BOT?start=report, /report <line>.

category → place (building, floor, room buttons, or typed text) → what is wrong → photos →
urgency → summary (提交 / 修改 / 取消). The draft lives in user_data["tk_form"] (JSON only), so
a restart resumes it; /report in the middle shows the current step again.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import tickets as th
from handlers.common import refuse_if_too_long, reply
from handlers.context import HouqinApp, HouqinContext
from handlers.menu import COMMANDS, menu_filter
from notices.render import button, deep_link, esc, keyboard
from school.i18n import LANGUAGES, Translate, translator
from school.profile import Duration, SchoolProfile
from storage import tickets as store
from storage.models import Ticket

log = logging.getLogger(__name__)

FP = "tkf"  # callback prefix of the form's buttons
MAX_DESCRIPTION = 500
MIN_DESCRIPTION = 2
MAX_PLACE = 100
MAX_PHOTOS = 10
DEEP_LINK_PAYLOAD = "report"


def _menu_labels() -> list[str]:
    labels: set[str] = set()
    for row in COMMANDS:
        if row.menu_label:
            labels.update(translator(language)(row.menu_label) for language in LANGUAGES)
    return sorted(labels)


# Private input for a form step: not a command, not another feature's menu button.
PRIVATE_INPUT = (
    filters.ChatType.PRIVATE
    & ~filters.COMMAND
    & ~filters.StatusUpdate.ALL
    & ~filters.Text(_menu_labels())
)


# --- the draft -----------------------------------------------------------------------------------


def _form(context: HouqinContext) -> dict[str, Any] | None:
    assert context.user_data is not None
    form = context.user_data.get("tk_form")
    return form if isinstance(form, dict) else None


def _new_form() -> dict[str, Any]:
    return {
        "category": None,
        "building": None,
        "floor": None,  # None: not asked yet; "": skipped or not applicable
        "room": None,
        "place": None,
        "place_done": False,
        "dup_done": False,
        "description": None,
        "photos": [],
        "photos_done": False,
        "urgency": None,
        "step": "category",
        "token": secrets.token_hex(8),  # names this submission: filed once even after a crash
    }


def _save(context: HouqinContext, form: dict[str, Any]) -> None:
    assert context.user_data is not None
    context.user_data["tk_form"] = form


def _clear(context: HouqinContext) -> None:
    if context.user_data is not None:
        context.user_data.pop("tk_form", None)


def draft_from_line(profile: SchoolProfile, line: str) -> dict[str, Any]:
    """A draft from '/report 实验楼3楼女厕水龙头一直滴水': what the line tells, nothing more."""
    form = _new_form()
    category = profile.match_category(line)
    if category is not None:
        form["category"] = category.key
    place = profile.match_place(line)
    if place is not None:
        form.update(
            building=place.building.key,
            floor=place.floor or "",
            room=place.room or "",
            place=profile.place_label(place.building, place.floor, place.room),
            place_done=True,
        )
    urgency = profile.match_urgency(line)
    form.update(
        description=line[:MAX_DESCRIPTION],
        photos_done=True,
        urgency=(urgency or profile.default_urgency).key,
    )
    return form


def _next_step(form: dict[str, Any]) -> str:
    if not form.get("category"):
        return "category"
    if not form.get("place_done"):
        if form.get("building") is None:
            return "building"
        if form.get("floor") is None:
            return "floor"
        return "room"
    if not form.get("dup_done"):
        return "duplicate"
    if not form.get("description"):
        return "description"
    if not form.get("photos_done"):
        return "photos"
    if not form.get("urgency"):
        return "urgency"
    return "summary"


def _finish_place(profile: SchoolProfile, form: dict[str, Any]) -> None:
    form["place"] = profile.place_label(
        form["building"], form.get("floor") or None, form.get("room") or None
    )
    form["place_done"] = True


# --- rendering the steps -------------------------------------------------------------------------


def duration_text(duration: Duration | None, _: Translate) -> str:
    """'30 minutes', '24 hours', '3 working days'."""
    if duration is None:
        return _("by appointment")
    if duration.working_days is not None:
        return _("{count} working days").format(count=duration.working_days)
    assert duration.timedelta is not None
    minutes = int(duration.timedelta.total_seconds() // 60)
    if minutes < 120:
        return _("{count} minutes").format(count=minutes)
    if minutes % (24 * 60) == 0 and minutes > 24 * 60:
        return _("{count} days").format(count=minutes // (24 * 60))
    return _("{count} hours").format(count=minutes // 60)


def _urgency_limits(profile: SchoolProfile, key: str, _: Translate) -> str:
    urgency = profile.urgency(key)
    if urgency.by_appointment:
        return _("by appointment")
    return _("taken within {accept}, finished within {finish}").format(
        accept=duration_text(urgency.accept_within, _),
        finish=duration_text(urgency.finish_within, _),
    )


def _urgency_hint(profile: SchoolProfile, key: str, _: Translate) -> str:
    return _("{name}: {limits}").format(
        name=profile.urgency(key).name, limits=_urgency_limits(profile, key, _)
    )


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _summary(context: HouqinContext, form: dict[str, Any]) -> str:
    profile = context.services.profile
    _ = context._
    lines = [
        _("<b>Please check your repair request</b>"),
        _("Category: {value}").format(value=esc(th.category_name(profile, form["category"]))),
        _("Place: {value}").format(value=esc(form["place"])),
        _("Problem: {value}").format(value=esc(form["description"])),
        _("Photos: {count}").format(count=len(form.get("photos") or [])),
        _("Urgency: {value}").format(
            value=esc(
                _("{name} ({limits})").format(
                    name=profile.urgency(form["urgency"]).name,
                    limits=_urgency_limits(profile, form["urgency"], _),
                )
            )
        ),
    ]
    return "\n".join(lines)


async def _prompt(
    update: Update, context: HouqinContext, form: dict[str, Any], *, prefix: str = ""
) -> str:
    """Send the prompt of the draft's next step; returns the step."""
    services = context.services
    profile = services.profile
    _ = context._
    step = _next_step(form)
    if step == "duplicate":
        found = await _duplicates(context, form)
        async with services.database.reading() as session:
            holders = {t.id: await th.holder_name(session, t) for t in found}
        if not found:
            form["dup_done"] = True
            step = _next_step(form)
        else:
            form["step"] = "duplicate"
            _save(context, form)
            lines = [_("There is already an open request of this kind at this place:")]
            rows = []
            now = services.now()
            for ticket in found[:3]:
                lines.append(
                    f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)}: "
                    f"{esc(ticket.description[:80])} — "
                    + th.status_line(ticket, holders.get(ticket.id), now, _)
                )
                rows.append(
                    [
                        button(
                            _("Same problem: follow {number}").format(number=ticket.number),
                            f"{FP}:join:{ticket.id}",
                        )
                    ]
                )
            lines.append(_("Is it the same problem? Follow it to get its updates."))
            rows.append([button(_("No, a different problem"), f"{FP}:new")])
            await _send(update, context, prefix + "\n".join(lines), keyboard(rows))
            return step
    form["step"] = step
    _save(context, form)
    markup: InlineKeyboardMarkup | None = None
    if step == "category":
        text = _("What kind of fault is it? Choose a category.")
        cats = [button(c.name, f"{FP}:c:{c.key}") for c in profile.repair.categories]
        markup = keyboard(_rows(cats, 3))
    elif step == "building":
        text = _("Where is it? Choose the building, or type the place (e.g. 实验楼3楼女厕).")
        several = len(profile.campuses) > 1
        places = [
            button(f"{b.name}" if not several else f"{c.name[:2]}·{b.name}", f"{FP}:b:{b.key}")
            for c, b in profile.buildings()
        ]
        markup = keyboard(_rows(places, 3))
    elif step == "floor":
        building = profile.building(form["building"])
        text = _("Which floor of {building}? Or type the exact spot.").format(
            building=esc(building.name)
        )
        floors = [button(f, f"{FP}:fl:{i}") for i, f in enumerate(building.floors)]
        markup = keyboard(
            [*_rows(floors, 4), [button(_("Not sure / whole building"), f"{FP}:fl:x")]]
        )
    elif step == "room":
        building = profile.building(form["building"])
        rooms = building.rooms.get(form.get("floor") or "", [])
        text = _("Which room on {place}? Or type the exact spot.").format(
            place=esc(building.name + (form.get("floor") or ""))
        )
        room_buttons = [button(r, f"{FP}:rm:{i}") for i, r in enumerate(rooms)]
        markup = keyboard([*_rows(room_buttons, 4), [button(_("Not sure"), f"{FP}:rm:x")]])
    elif step == "description":
        text = _("What is wrong? Describe it in one message (at most {limit} characters).").format(
            limit=MAX_DESCRIPTION
        )
    elif step == "photos":
        count = len(form.get("photos") or [])
        text = _(
            "Send photos of the fault (up to {limit}), then press Done. No photo? Press Skip."
        ).format(limit=MAX_PHOTOS)
        if count:
            text = _("{count} photo(s) received. Send more, or press Done.").format(count=count)
        markup = keyboard(
            [[button(_("Done"), f"{FP}:pdone"), button(_("Skip"), f"{FP}:pdone")]]
            if not count
            else [[button(_("Done"), f"{FP}:pdone")]]
        )
    elif step == "urgency":
        text = (
            _("How urgent is it?")
            + "\n"
            + "\n".join(
                "• " + esc(_urgency_hint(profile, u.key, _)) for u in profile.repair.urgencies
            )
        )
        markup = keyboard([[button(u.name, f"{FP}:u:{u.key}") for u in profile.repair.urgencies]])
    else:
        text = _summary(context, form)
        markup = keyboard(
            [
                [
                    button(_("Submit"), f"{FP}:submit"),
                    button(_("Change"), f"{FP}:edit"),
                    button(_("Cancel"), f"{FP}:cancel"),
                ]
            ]
        )
    await _send(update, context, prefix + text, markup)
    return step


async def _send(
    update: Update, context: HouqinContext, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def _duplicates(context: HouqinContext, form: dict[str, Any]) -> list[Ticket]:
    async with context.services.database.reading() as session:
        return await store.find_duplicates(
            session,
            category_key=form["category"],
            place=form["place"],
            building_key=form.get("building"),
            floor=form.get("floor") or None,
            room=form.get("room") or None,
        )


async def _advance(update: Update, context: HouqinContext, form: dict[str, Any]) -> object:
    """Ask the next step; a complete quick report (no duplicate) is filed at once."""
    if form.get("quick") and _next_step(form) == "duplicate":
        form["dup_done"] = not await _duplicates(context, form)
    if form.get("quick") and _next_step(form) == "summary":
        return await _submit(update, context, form)
    await _prompt(update, context, form)
    return th.FORM


async def resume_if_pending(update: Update, context: HouqinContext) -> object | None:
    """After a handling input: continue a report form left half-way (FORM), else None."""
    form = _form(context)
    if form is None:
        return None
    await _prompt(update, context, form, prefix=context._("Back to your repair request.") + "\n")
    return th.FORM


# --- entry points --------------------------------------------------------------------------------


async def report_command(update: Update, context: HouqinContext) -> object:
    """/report [line] or the 我要报修 button in the private chat."""
    if not await th.may_report(update, context):
        return None
    _end_act(context)
    line = " ".join(context.args or []).strip()
    if line:
        return await _quick(update, context, line)
    form = _form(context)
    if form is not None:
        await _prompt(
            update, context, form, prefix=context._("Continuing your repair request.") + "\n"
        )
        return th.FORM
    form = _new_form()
    return await _advance(update, context, form)


async def start_report(update: Update, context: HouqinContext) -> object:
    """t.me/BOT?start=report: the deep link from a group."""
    if not await th.may_report(update, context):
        return None
    _end_act(context)
    form = _form(context) or _new_form()
    return await _advance(update, context, form)


def _end_act(context: HouqinContext) -> None:
    if context.user_data is not None:
        context.user_data.pop("tk_act", None)


async def _quick(update: Update, context: HouqinContext, line: str) -> object:
    """A one-line report in the private chat: ask only what the line did not tell."""
    if await refuse_if_too_long(update, context, line, MAX_DESCRIPTION):
        return None
    form = draft_from_line(context.services.profile, line)
    form["quick"] = True
    return await _advance(update, context, form)


async def group_report(update: Update, context: HouqinContext) -> None:
    """/report in a group: a one-liner is filed from the line; the form goes to private."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if not await th.may_report(update, context):
        return
    _ = context._
    services = context.services
    link = deep_link(context.bot.username, DEEP_LINK_PAYLOAD)
    go_private = InlineKeyboardButton(_("Report in private chat"), url=link)
    line = " ".join(context.args or []).strip()
    if not line:
        await message.reply_text(
            _("Tap the button to report a fault in our private chat (keeps this group tidy)."),
            reply_markup=InlineKeyboardMarkup([[go_private]]),
        )
        return
    form = draft_from_line(services.profile, line[:MAX_DESCRIPTION])
    form["quick"] = True
    if _next_step(form) == "duplicate":
        found = await _duplicates(context, form)
        form["dup_done"] = True
        if found:
            _save(context, form)
            ticket = found[0]
            await message.reply_text(
                _(
                    "{number} already reports this kind of fault at {place}. Same problem? "
                    "Follow it. Otherwise continue in private."
                ).format(number=esc(ticket.number), place=esc(ticket.place)),
                parse_mode=ParseMode.HTML,
                reply_markup=InlineKeyboardMarkup(
                    [
                        [button(_("Same problem"), f"{th.PREFIX}:join:{ticket.id}")],
                        [InlineKeyboardButton(_("No, a different problem"), url=link)],
                    ]
                ),
            )
            return
    if _next_step(form) != "summary":
        _save(context, form)
        missing = _("the place") if form.get("category") else _("the category")
        if not form.get("category") and not form.get("place_done"):
            missing = _("the category and the place")
        await message.reply_text(
            _("I still need {missing}. Tap the button to finish in our private chat.").format(
                missing=missing
            ),
            reply_markup=InlineKeyboardMarkup([[go_private]]),
        )
        return
    ticket = await _create(update, context, form)
    await message.reply_text(
        _("Filed as {number}: {place} · {category}. Updates come in our private chat.").format(
            number=f"<b>{esc(ticket.number)}</b>",
            place=esc(ticket.place),
            category=esc(th.category_name(services.profile, ticket.category_key)),
        ),
        parse_mode=ParseMode.HTML,
    )
    await th.publish_ticket(context.bot, services, ticket)


# --- creating ------------------------------------------------------------------------------------


async def _create(update: Update, context: HouqinContext, form: dict[str, Any]) -> Ticket:
    user = update.effective_user
    assert user is not None
    services = context.services
    person = context.person
    token = form.get("token")
    async with services.database.transaction() as session:
        # A crash after the commit but before the form's end was saved leaves the form at its
        # summary; submitting it again finds the ticket it filed instead of filing a second.
        ticket = await store.filed_by_submission(session, token) if token else None
        if ticket is None:
            ticket = await store.create_ticket(
                session,
                profile=services.profile,
                now=services.now(),
                reporter_telegram_id=user.id,
                reporter_name=person.name if person is not None else user.full_name,
                reporter=person,
                category_key=form["category"],
                place=form["place"],
                description=form["description"],
                urgency_key=form["urgency"],
                building_key=form.get("building"),
                floor=form.get("floor") or None,
                room=form.get("room") or None,
                photo_file_ids=list(form.get("photos") or []),
            )
            if token:
                await store.record_submission(session, token, ticket, now=services.now())
            # The card and the confirmation commit with the ticket: never one without the other.
            await th.queue_publication(session, services, ticket)
    _clear(context)
    return ticket


async def _submit(update: Update, context: HouqinContext, form: dict[str, Any]) -> object:
    ticket = await _create(update, context, form)
    await th.publish_ticket(context.bot, context.services, ticket)
    return th.ConversationHandler.END


# --- the form's input ----------------------------------------------------------------------------


async def form_button(update: Update, context: HouqinContext) -> object:
    """A button of the form."""
    query = update.callback_query
    assert query is not None and query.data is not None
    form = _form(context)
    _ = context._
    profile = context.services.profile
    if form is None:
        await query.answer(_("This form is closed. Send /report to start again."), show_alert=True)
        return th.ConversationHandler.END
    parts = query.data.split(":")
    action = parts[1]
    value = parts[2] if len(parts) > 2 else ""
    step = form.get("step")
    chosen: str | None = None
    if action == "c" and step == "category":
        try:
            category = profile.category(value)
        except KeyError:
            return await _stale(update, context, form)
        form["category"] = category.key
        chosen = _("Category: {value}").format(value=category.name)
    elif action == "b" and step == "building":
        try:
            building = profile.building(value)
        except KeyError:
            return await _stale(update, context, form)
        form.update(building=building.key, floor=None, room=None)
        if not building.floors:
            form.update(floor="", room="")
            _finish_place(profile, form)
        chosen = _("Place: {value}").format(value=building.name)
    elif action == "fl" and step == "floor":
        building = profile.building(form["building"])
        if value == "x":
            form.update(floor="", room="")
        elif value.isdigit() and int(value) < len(building.floors):
            form["floor"] = building.floors[int(value)]
            if not building.rooms.get(form["floor"]):
                form["room"] = ""
        else:
            return await _stale(update, context, form)
        if form.get("room") is not None:
            _finish_place(profile, form)
        chosen = _("Place: {value}").format(
            value=profile.place_label(building, form.get("floor") or None)
        )
    elif action == "rm" and step == "room":
        building = profile.building(form["building"])
        rooms = building.rooms.get(form.get("floor") or "", [])
        if value == "x":
            form["room"] = ""
        elif value.isdigit() and int(value) < len(rooms):
            form["room"] = rooms[int(value)]
        else:
            return await _stale(update, context, form)
        _finish_place(profile, form)
        chosen = _("Place: {value}").format(value=form["place"])
    elif action == "join" and step == "duplicate" and value.isdigit():
        return await _join(update, context, int(value))
    elif action == "new" and step == "duplicate":
        form["dup_done"] = True
        chosen = _("A different problem.")
    elif action == "pdone" and step == "photos":
        form["photos_done"] = True
        chosen = _("Photos: {count}").format(count=len(form.get("photos") or []))
    elif action == "u" and step == "urgency":
        try:
            urgency = profile.urgency(value)
        except KeyError:
            return await _stale(update, context, form)
        form["urgency"] = urgency.key
        chosen = _("Urgency: {value}").format(value=urgency.name)
    elif action == "submit" and step == "summary":
        await query.answer()
        await query.edit_message_text(
            _summary(context, form) + "\n✓ " + esc(_("Submitted.")), parse_mode=ParseMode.HTML
        )
        return await _submit(update, context, form)
    elif action == "cancel" and step == "summary":
        _clear(context)
        await query.answer()
        await query.edit_message_text(_("Repair request cancelled. Nothing was filed."))
        return th.ConversationHandler.END
    elif action == "edit" and step == "summary":
        await query.answer()
        await query.edit_message_reply_markup(
            keyboard(
                [
                    [
                        button(_("Category"), f"{FP}:e:cat"),
                        button(_("Place"), f"{FP}:e:place"),
                        button(_("Problem"), f"{FP}:e:desc"),
                    ],
                    [
                        button(_("Photos"), f"{FP}:e:photo"),
                        button(_("Urgency"), f"{FP}:e:urg"),
                    ],
                ]
            )
        )
        form["step"] = "edit"
        _save(context, form)
        return th.FORM
    elif action == "e" and step == "edit":
        resets: dict[str, dict[str, Any]] = {
            "cat": {"category": None, "dup_done": False},
            "place": {
                "building": None,
                "floor": None,
                "room": None,
                "place": None,
                "place_done": False,
                "dup_done": False,
            },
            "desc": {"description": None},
            "photo": {"photos": [], "photos_done": False},
            "urg": {"urgency": None},
        }
        if value not in resets:
            return await _stale(update, context, form)
        form.update(resets[value])
        form.pop("quick", None)
        await query.answer()
        await query.edit_message_reply_markup(None)
        return await _advance(update, context, form)
    else:
        return await _stale(update, context, form)
    await query.answer()
    if chosen is not None:
        await query.edit_message_text("✓ " + esc(chosen), parse_mode=ParseMode.HTML)
    return await _advance(update, context, form)


async def _stale(update: Update, context: HouqinContext, form: dict[str, Any]) -> object:
    """A button of an earlier step: show the current step again."""
    query = update.callback_query
    assert query is not None
    await query.answer(context._("That step is over; see the latest message."), show_alert=True)
    return th.FORM


async def _join(update: Update, context: HouqinContext, ticket_id: int) -> object:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    services = context.services
    async with services.database.transaction() as session:
        await store.follow(
            session,
            ticket_id=ticket_id,
            telegram_id=user.id,
            name=context.person.name if context.person else user.full_name,
            person=context.person,
            now=services.now(),
        )
        ticket = await store.get_ticket(session, ticket_id)
    _clear(context)
    assert ticket is not None
    await query.answer()
    await query.edit_message_text(
        context._(
            "You now follow {number} and will get its updates. No new request was filed."
        ).format(number=f"<b>{esc(ticket.number)}</b>"),
        parse_mode=ParseMode.HTML,
    )
    return th.ConversationHandler.END


async def form_message(update: Update, context: HouqinContext) -> object:
    """A message while the form waits: check it against the step and say what is expected."""
    message = update.effective_message
    assert message is not None
    form = _form(context)
    _ = context._
    profile = context.services.profile
    if form is None:
        return th.ConversationHandler.END
    step = form.get("step")
    text = (message.text or "").strip()
    if step == "category":
        category = profile.match_category(text) if text else None
        if category is None:
            await reply(update, context, _("Please choose a category with the buttons above."))
            return th.FORM
        form["category"] = category.key
        return await _advance(update, context, form)
    if step in ("building", "floor", "room"):
        if not text:
            await reply(update, context, _("Please choose with the buttons or type the place."))
            return th.FORM
        if not 2 <= len(text) <= MAX_PLACE:
            await reply(
                update,
                context,
                _("Type the place in 2 to {limit} characters, please.").format(limit=MAX_PLACE),
            )
            return th.FORM
        if step == "building":
            match = profile.match_place(text)
            form.update(
                building=match.building.key if match else None,
                floor=(match.floor or "") if match else "",
                room=(match.room or "") if match else "",
                place=text,
                place_done=True,
            )
        else:
            building = profile.building(form["building"])
            prefix = building.name + (form.get("floor") or "")
            form.update(
                floor=form.get("floor") or "",
                room=text[:64],
                place=text if building.name in text else prefix + text,
                place_done=True,
            )
        return await _advance(update, context, form)
    if step == "description":
        if message.photo:
            form["photos"] = [*form.get("photos", []), message.photo[-1].file_id][:MAX_PHOTOS]
            if message.caption and len(message.caption.strip()) >= MIN_DESCRIPTION:
                form["description"] = message.caption.strip()[:MAX_DESCRIPTION]
                return await _advance(update, context, form)
            _save(context, form)
            await reply(update, context, _("Photo kept. Now describe the problem in words."))
            return th.FORM
        if not text:
            await reply(update, context, _("Please describe the problem in a text message."))
            return th.FORM
        if len(text) < MIN_DESCRIPTION or len(text) > MAX_DESCRIPTION:
            await reply(
                update,
                context,
                _("Describe it in {low} to {high} characters, please.").format(
                    low=MIN_DESCRIPTION, high=MAX_DESCRIPTION
                ),
            )
            return th.FORM
        form["description"] = text
        return await _advance(update, context, form)
    if step == "photos":
        if message.photo:
            photos = [*form.get("photos", []), message.photo[-1].file_id]
            form["photos"] = photos[:MAX_PHOTOS]
            if len(photos) >= MAX_PHOTOS:
                form["photos_done"] = True
                return await _advance(update, context, form)
            _save(context, form)
            await reply(
                update,
                context,
                _("{count} photo(s) received. Send more, or press Done.").format(
                    count=len(form["photos"])
                ),
                reply_markup=keyboard([[button(_("Done"), f"{FP}:pdone")]]),
            )
            return th.FORM
        await reply(
            update,
            context,
            _("Here I need a photo (sent as a picture, not a file or sticker), or press Done."),
        )
        return th.FORM
    if step == "urgency":
        chosen = next((u for u in profile.repair.urgencies if u.name == text), None)
        if chosen is None:
            await reply(update, context, _("Please choose the urgency with the buttons above."))
            return th.FORM
        form["urgency"] = chosen.key
        return await _advance(update, context, form)
    await reply(update, context, _("Please use the buttons above, or /cancel to stop."))
    return th.FORM


async def cancel_any(update: Update, context: HouqinContext) -> object:
    """/cancel in the form or in a handling input."""
    assert context.user_data is not None
    if "tk_act" in context.user_data:
        return await th.act_cancel(update, context)
    _clear(context)
    await reply(update, context, context._("Repair request cancelled. Nothing was filed."))
    return th.ConversationHandler.END


# --- registration --------------------------------------------------------------------------------


def entry_points() -> list[BaseHandler[Update, HouqinContext, object]]:
    """How the form starts (private chat)."""
    return [
        CommandHandler("report", report_command, filters.ChatType.PRIVATE),
        MessageHandler(menu_filter("report"), report_command),
        CommandHandler(
            "start",
            start_report,
            filters.ChatType.PRIVATE & filters.Regex(rf"^/start {DEEP_LINK_PAYLOAD}$"),
        ),
    ]


def state_handlers() -> list[BaseHandler[Update, HouqinContext, object]]:
    """The form's input handlers."""
    return [
        CallbackQueryHandler(form_button, pattern=rf"^{FP}:"),
        MessageHandler(PRIVATE_INPUT, form_message),
    ]


def register_outside(application: HouqinApp) -> None:
    """Handlers outside the conversation: /report in groups."""
    application.add_handler(CommandHandler("report", group_report, ~filters.ChatType.PRIVATE))
