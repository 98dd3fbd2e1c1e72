"""The report form's input: the buttons and messages of each step, checked against the step the
draft is at, and the form's declaration for the form owner (handlers.forms)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import tickets as act
from handlers import stickers
from handlers.buttons import on_button
from handlers.common import reply, voice_in
from handlers.context import HouqinContext
from handlers.forms import END, Form
from handlers.menu import menu_filter
from handlers.ticket_form import (
    DEEP_LINK_PAYLOAD,
    MAX_DESCRIPTION,
    MAX_PHOTOS,
    MAX_PLACE,
    MIN_DESCRIPTION,
    PRIVATE_INPUT,
    STEPS,
    ReportDraft,
    _advance,
    _clear,
    _finish_place,
    _load,
    _prompt,
    _save,
    _submit,
    _summary,
    report_command,
    start_report,
)
from handlers.ticket_presses import not_valid, offered, pressed_ticket
from notices.render import edit_or_ignore, esc, keyboard
from notices.ticket_buttons import FormChoice, ReportFormButton, form_button
from school.i18n import N_
from storage.ticket_flow import Move

# What "Change" on the summary resets, by the part chosen.
RESETS: dict[str, dict[str, object]] = {
    "cat": {"category": None, "dup_done": False},
    "place": {
        "building": None,
        "floor": None,
        "room": None,
        "place": None,
        "place_done": False,
        "dup_done": False,
    },
    "desc": {"description": None, "voice": None, "voice_seconds": 0},
    "photo": {"photos": [], "photos_done": False},
    "urg": {"urgency": None},
}


Found = TypeVar("Found")
# Choices that pick an entry of the profile by key, and what the form says of the choice.
_PICKED = {
    FormChoice.CATEGORY: N_("Category: {value}"),
    FormChoice.URGENCY: N_("Urgency: {value}"),
}


def _known(lookup: Callable[[str], Found], key: str) -> Found | None:
    """The profile's entry for a key a button carries; None for a key it no longer has."""
    try:
        return lookup(key)
    except KeyError:
        return None


async def form_button_pressed(
    update: Update, context: HouqinContext, data: ReportFormButton
) -> object:
    """A button of the form."""
    query = update.callback_query
    assert query is not None
    form = _load(context)
    _ = context._
    profile = context.services.profile
    if form is None:
        await query.answer(_("This form is closed. Send /report to start again."), show_alert=True)
        return END
    choice, value, step = data.choice, data.value, form.step
    chosen: str | None = None
    if choice in _PICKED and step == choice.name.lower():
        # category, urgency: a key of the profile's list of that name
        entry = _known(getattr(profile, step), value)
        if entry is None:
            return await _stale(update, context)
        setattr(form, step, entry.key)
        chosen = _(_PICKED[choice]).format(value=entry.name)
        if form.sticker and step == "urgency":
            # From a sticker the urgency files the request: filed (committed) first, then the
            # buttons go; a busy database leaves them for a second press (filed once).
            result = await _advance(update, context, form)
            await query.answer()
            await edit_or_ignore(query.edit_message_text("✓ " + esc(chosen)))
            return result
    elif choice == FormChoice.BUILDING and step == "building":
        building = _known(profile.building, value)
        if building is None:
            return await _stale(update, context)
        form.building, form.floor, form.room = building.key, None, None
        if not building.floors:
            form.floor, form.room = "", ""
            _finish_place(profile, form)
        chosen = _("Place: {value}").format(value=building.name)
    elif choice == FormChoice.FLOOR and step == "floor":
        assert form.building is not None
        building = profile.building(form.building)
        if value == "x":
            form.floor, form.room = "", ""
        elif value.isdigit() and int(value) < len(building.floors):
            form.floor = building.floors[int(value)]
            if not building.rooms.get(form.floor):
                form.room = ""
        else:
            return await _stale(update, context)
        if form.room is not None:
            _finish_place(profile, form)
        chosen = _("Place: {value}").format(value=profile.place_label(building, form.floor or None))
    elif choice == FormChoice.ROOM and step == "room":
        assert form.building is not None
        building = profile.building(form.building)
        rooms = building.rooms.get(form.floor or "", [])
        if value == "x":
            form.room = ""
        elif value.isdigit() and int(value) < len(rooms):
            form.room = rooms[int(value)]
        else:
            return await _stale(update, context)
        _finish_place(profile, form)
        chosen = _("Place: {value}").format(value=form.place)
    elif choice == FormChoice.JOIN and step == "duplicate":
        return await _join(update, context, data)
    elif choice == FormChoice.NEW and step == "duplicate":
        form.dup_done = True
        chosen = _("A different problem.")
    elif choice == FormChoice.PHOTOS_DONE and step == "photos":
        form.photos_done = True
        chosen = _("Photos: {count}").format(count=len(form.photos))
    elif choice == FormChoice.SUBMIT and step == "summary":
        # Filed first: if the database is busy or the bot dies here, the summary keeps its
        # buttons and the person is told to press 提交 again (the draft's token files it once).
        submitted = _summary(context, form) + "\n✓ " + esc(_("Submitted."))
        result = await _submit(update, context, form)
        await query.answer()
        await edit_or_ignore(query.edit_message_text(submitted))
        return result
    elif choice == FormChoice.CANCEL and step == "summary":
        _clear(context)
        await query.answer()
        await query.edit_message_text(_("Repair request cancelled. Nothing was filed."))
        return END
    elif choice == FormChoice.EDIT and step == "summary":
        await query.answer()
        await edit_or_ignore(
            query.edit_message_reply_markup(
                keyboard(
                    [
                        [
                            form_button(_("Category"), FormChoice.CHANGE, "cat"),
                            form_button(_("Place"), FormChoice.CHANGE, "place"),
                            form_button(_("Problem"), FormChoice.CHANGE, "desc"),
                        ],
                        [
                            form_button(_("Photos"), FormChoice.CHANGE, "photo"),
                            form_button(_("Urgency"), FormChoice.CHANGE, "urg"),
                        ],
                    ]
                )
            )
        )
        form.step = "edit"
        _save(context, form)
        return "edit"
    elif choice == FormChoice.CHANGE and step == "edit":
        if value not in RESETS:
            return await _stale(update, context)
        form = ReportDraft.model_validate({**form.model_dump(), **RESETS[value], "quick": False})
        await query.answer()
        await edit_or_ignore(query.edit_message_reply_markup(None))
        return await _advance(update, context, form)
    else:
        return await _stale(update, context)
    await query.answer()
    if chosen is not None:
        await query.edit_message_text("✓ " + esc(chosen))
    return await _advance(update, context, form)


async def _stale(update: Update, context: HouqinContext) -> object:
    """A button of an earlier step: the current step stays."""
    query = update.callback_query
    assert query is not None
    await query.answer(context._("That step is over; see the latest message."), show_alert=True)
    return None


async def _join(update: Update, context: HouqinContext, data: ReportFormButton) -> object:
    """同一问题: follow the open ticket the duplicate check showed; nothing new is filed."""
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    if not data.value.isdigit() or not offered(update, data):
        await not_valid(update, context)
        return None
    ticket_id = int(data.value)
    if await pressed_ticket(update, context, ticket_id, Move.FOLLOW) is None:
        return None
    followed = await act.follow(
        context.services,
        ticket_id,
        telegram_id=user.id,
        name=context.person.name if context.person else user.full_name,
        person=context.person,
    )
    _clear(context)
    await query.answer()
    await query.edit_message_text(
        context._(
            "You now follow {number} and will get its updates. No new request was filed."
        ).format(number=f"<b>{esc(followed.ticket.number)}</b>")
    )
    return END


async def form_message(update: Update, context: HouqinContext) -> object:
    """A message while the form waits: check it against the step and say what is expected."""
    message = update.effective_message
    assert message is not None
    form = _load(context)
    if form is None:
        return END
    _, profile = context._, context.services.profile
    step = form.step
    voice = voice_in(message)
    if voice is not None:
        return await _voice_given(update, context, form, voice)
    text = (message.text or "").strip()
    if step == "duplicate" and form.sticker:
        # From a sticker, what is wrong may be said right away: a different problem.
        form.dup_done, form.step = True, "description"
        step = "description"
    if step == "category":
        category = profile.match_category(text) if text else None
        if category is None:
            await reply(update, context, _("Please choose a category with the buttons above."))
            return None
        form.category = category.key
        return await _advance(update, context, form)
    if step in ("building", "floor", "room"):
        if not text:
            await reply(update, context, _("Please choose with the buttons or type the place."))
            return None
        if not 2 <= len(text) <= MAX_PLACE:
            await reply(
                update,
                context,
                _("Type the place in 2 to {limit} characters, please.").format(limit=MAX_PLACE),
            )
            return None
        if step == "building":
            match = profile.match_place(text)
            form.building = match.building.key if match else None
            form.floor = (match.floor or "") if match else ""
            form.room = (match.room or "") if match else ""
        else:
            assert form.building is not None
            building = profile.building(form.building)
            prefix = building.name + (form.floor or "")
            form.floor = form.floor or ""
            form.room = text[:64]
            text = text if building.name in text else prefix + text
        form.place, form.place_done = text, True
        return await _advance(update, context, form)
    if step == "description":
        if message.photo:
            form.photos = [*form.photos, message.photo[-1].file_id][:MAX_PHOTOS]
            if message.caption and len(message.caption.strip()) >= MIN_DESCRIPTION:
                form.description = message.caption.strip()[:MAX_DESCRIPTION]
                return await _advance(update, context, form)
            _save(context, form)
            await reply(update, context, _("Photo kept. Now describe the problem in words."))
            return None
        if not text:
            await reply(update, context, _("Please describe the problem in a text message."))
            return None
        if len(text) < MIN_DESCRIPTION or len(text) > MAX_DESCRIPTION:
            await reply(
                update,
                context,
                _("Describe it in {low} to {high} characters, please.").format(
                    low=MIN_DESCRIPTION, high=MAX_DESCRIPTION
                ),
            )
            return None
        form.description = text
        return await _advance(update, context, form)
    if step == "photos":
        if message.photo:
            photos = [*form.photos, message.photo[-1].file_id]
            form.photos = photos[:MAX_PHOTOS]
            if len(photos) >= MAX_PHOTOS:
                form.photos_done = True
                return await _advance(update, context, form)
            await _acknowledge_photos(update, context, form)
            _save(context, form)
            return None
        await reply(
            update,
            context,
            _("Here I need a photo (sent as a picture, not a file or sticker), or press Done."),
        )
        return None
    if step == "urgency":
        chosen = next((u for u in profile.repair.urgencies if u.name == text), None)
        if chosen is None:
            await reply(update, context, _("Please choose the urgency with the buttons above."))
            return None
        form.urgency = chosen.key
        return await _advance(update, context, form)
    await reply(update, context, _("Please use the buttons above, or /cancel to stop."))
    return None


async def _voice_given(
    update: Update, context: HouqinContext, form: ReportDraft, voice: act.Voice
) -> object:
    """A voice message at any step describes the fault (a later one replaces it). Nothing in
    it can be read here, so the category and place are still asked with their buttons: the
    step waiting is asked again, or at the description step the form goes on."""
    _ = context._
    replaced = form.voice is not None
    form.voice, form.voice_seconds = voice.file_id, voice.duration
    length = voice.length
    if replaced:
        said = _("Voice description replaced ({length}).").format(length=length)
    else:
        said = _("Voice description received ({length}).").format(length=length)
    await reply(update, context, "🎤 " + said)
    if form.step == "duplicate" and form.sticker:
        form.dup_done = True  # from a sticker: a voice at the open tickets is a new problem
        return await _advance(update, context, form)
    if form.step == "description":
        return await _advance(update, context, form)
    return await _prompt(update, context, form)


async def cancel_report(update: Update, context: HouqinContext) -> object:
    """/cancel in the report form."""
    _clear(context)
    await reply(update, context, context._("Repair request cancelled. Nothing was filed."))
    return END


def form() -> Form:
    """The report form, parked (its draft kept) when another form starts."""
    pressed = on_button(ReportFormButton, form_button_pressed)
    typed = MessageHandler(PRIVATE_INPUT, form_message)
    return Form(
        name="report",
        title=N_("repair request"),
        entry_points=[
            CommandHandler("report", report_command, filters.ChatType.PRIVATE),
            MessageHandler(menu_filter("report"), report_command),
            CommandHandler(
                "start",
                start_report,
                filters.ChatType.PRIVATE & filters.Regex(rf"^/start {DEEP_LINK_PAYLOAD}$"),
            ),
            stickers.scan_entry(),
        ],
        steps={step: [pressed, typed] for step in STEPS},
        cancel=cancel_report,
        resume_hint=N_("Send /report to go on with it."),
        drafts=("tk_form",),
    )


async def _acknowledge_photos(update: Update, context: HouqinContext, form: ReportDraft) -> None:
    """Say how many photos the form holds: one answer per album (edited as its photos come),
    one per photo sent on its own."""
    message = update.effective_message
    assert message is not None
    text = context._("{count} photo(s) received. Send more, or press Done.").format(
        count=len(form.photos)
    )
    markup = keyboard([[form_button(context._("Done"), FormChoice.PHOTOS_DONE)]])
    album = message.media_group_id
    if album is not None and album == form.album and form.album_answer is not None:
        await edit_or_ignore(
            context.bot.edit_message_text(
                text, chat_id=message.chat_id, message_id=form.album_answer, reply_markup=markup
            )
        )
        return
    answer = await message.reply_text(text, reply_markup=markup)
    form.album = album
    form.album_answer = answer.message_id if album is not None else None
