"""QR stickers per place (扫码报修): scanning one, and /stickers for the director.

A sticker's code is ``t.me/BOT?start=<token>``; the scan arrives as ``/start <token>`` and opens
the report form (handlers/ticket_form.py) already at that place: the open tickets there first
(同一问题 with a tap, or just say what is wrong), otherwise what is wrong (text or voice), an
optional photo and the urgency, which files it. Someone not registered is handled as the
profile's ``repair.visitors`` says: "report" (a visitor, answered in this private chat, which
the scan opened) or "join" (asked to join first). A revoked or unknown code says so and how to
report otherwise.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import CommandHandler, filters

from actions import people as people_actions
from handlers.common import reply, require_role
from handlers.context import HouqinApp, HouqinContext
from handlers.ticket_form import ReportDraft, _advance
from notices.people import ask_to_join_keyboard
from notices.render import esc
from notices.stickers import issue_labels, sheets_pdf
from school.sticker_places import current_place, label_of
from storage import stickers
from storage.models import PlaceSticker, Role
from storage.stickers import TOKEN_PATTERN

log = logging.getLogger(__name__)

SCAN = filters.ChatType.PRIVATE & filters.Regex(rf"^/start {TOKEN_PATTERN}$")


def sticker_draft(context: HouqinContext, sticker: PlaceSticker) -> ReportDraft:
    """A report draft at the sticker's place: as the profile names it now, or, when the profile
    no longer has that place (renamed, removed), at the label the sticker was printed with."""
    profile = context.services.profile
    building: str | None
    now = current_place(profile, sticker.building_key, sticker.floor, sticker.room)
    if now is not None:
        building, floor, room = now
        place = label_of(profile, building, floor, room, sticker.equipment)
    else:
        known = current_place(profile, sticker.building_key, "", "") is not None
        building = sticker.building_key if known else None
        floor, room, place = sticker.floor, sticker.room, sticker.label
    return ReportDraft(
        building=building,
        floor=floor,
        room=room,
        place=place,
        place_done=True,
        photos_done=False,
        quick=True,  # the urgency files it: no summary
        sticker=sticker.token,
        equipment=sticker.equipment,
        step="duplicate",
    )


async def scan(update: Update, context: HouqinContext) -> object:
    """/start <token>: a sticker was scanned."""
    user = update.effective_user
    assert user is not None
    _ = context._
    services = context.services
    token = (context.args or [""])[0]
    await people_actions.chat_opened(context.bot, services, user.id)
    async with services.database.reading() as session:
        sticker = await stickers.find(session, token)
    if sticker is None or sticker.revoked_at is not None:
        log.info("scanned a %s sticker token", "revoked" if sticker else "unknown")
        text = (
            _("This repair code is no longer in use ({place}).").format(place=esc(sticker.label))
            if sticker is not None
            else _("This repair code is not valid.")
        )
        how = (
            _("To report a fault, send /report and choose the place, or call the logistics office.")
            if context.person is not None
            else _("To report a fault, please call the logistics office.")
        )
        await reply(update, context, text + "\n" + how)
        return None
    if context.person is None and services.profile.repair.visitors == "join":
        await reply(
            update,
            context,
            _(
                "This code reports a fault at {place}. Only registered staff and teachers can "
                "report here: ask to join below (the director approves it), then scan again."
            ).format(place=esc(sticker.label)),
            reply_markup=ask_to_join_keyboard(_),
        )
        return None
    form = sticker_draft(context, sticker)
    return await _advance(update, context, form)


def scan_entry() -> CommandHandler[HouqinContext, object]:
    """The report form's entry point for a scanned sticker."""
    return CommandHandler("start", scan, SCAN)


# --- /stickers -----------------------------------------------------------------------------------


async def stickers_command(update: Update, context: HouqinContext) -> None:
    """/stickers [building or campus]: the sticker sheets as a PDF (director)."""
    if await require_role(update, context, {Role.DIRECTOR}) is None:
        return
    _ = context._
    services = context.services
    wanted = " ".join(context.args or []).strip() or None
    profile = services.profile
    building = campus = None
    if wanted is not None:
        # a building (name, alias or key), or a whole campus
        if any(wanted in (c.key, c.name) for c in profile.campuses):
            campus = wanted
        elif profile.find_building(wanted) is not None:
            building = wanted
        else:
            names = "、".join(b.name for _c, b in profile.buildings())
            await reply(
                update,
                context,
                _("There is no building {name}. Buildings: {names}").format(
                    name=esc(wanted), names=esc(names)
                ),
            )
            return
    async with services.database.transaction() as session:
        labels = await issue_labels(
            session,
            profile,
            context.bot.username,
            now=services.now(),
            building=building,
            campus=campus,
        )
    school = services.profile.school.name
    chat = update.effective_chat
    assert chat is not None
    # The whole school takes some seconds to draw: the chat shows it is coming.
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    data = await asyncio.to_thread(sheets_pdf, school, labels)
    filename = f"stickers-{wanted or 'all'}.pdf"
    await context.bot.send_document(
        chat.id,
        InputFile(data, filename=filename, attach=True),
        filename=filename,
        caption=_(
            "🏷 QR stickers: {count} label(s), 8 to an A4 sheet. A code opens a repair request "
            "already at its place; printing again gives the same codes."
        ).format(count=len(labels)),
    )
    log.info("sent %s sticker label(s) (%s)", len(labels), wanted or "all")


def register(application: HouqinApp) -> None:
    """/stickers (the scan is an entry point of the report form)."""
    application.add_handler(CommandHandler("stickers", stickers_command))
