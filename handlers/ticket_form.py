"""The report form (报修): /report, the 我要报修 button, t.me/BOT?start=report, /report <line>.

category → place (building, floor, room buttons, or typed text) → what is wrong → photos →
urgency → summary (提交 / 修改 / 取消). The draft is a typed `ReportDraft` kept in
user_data["tk_form"], so a restart resumes it; /report in the middle shows the current step
again, and another form starting parks it (its draft kept; /report goes on with it). This module
holds the draft, how each step is asked, the entry points and the filing; the steps' input is in
handlers/ticket_form_input.py.
"""

from __future__ import annotations

import logging
import secrets

from pydantic import BaseModel, Field
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CommandHandler, filters

from actions import tickets as act
from handlers.common import refuse_if_too_long
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, drop_draft, load_draft, opening, save_draft
from handlers.menu import COMMANDS
from handlers.ticket_presses import may_report
from notices import tickets as told
from notices.recipients import group_translator
from notices.render import button, deep_link, esc, keyboard
from notices.ticket_buttons import FormChoice, TicketButton, form_button, rows_of
from school.i18n import LANGUAGES, Translate, translator
from school.profile import Duration, SchoolProfile
from school.sticker_places import category_for
from storage.models import Ticket
from storage.ticket_flow import Move

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 500
MIN_DESCRIPTION = 2
MAX_PLACE = 100
MAX_PHOTOS = 10
DEEP_LINK_PAYLOAD = "report"
# t.me/BOT?start=updates: opens the private chat so a report filed in a group can be followed.
UPDATES_PAYLOAD = "updates"


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

DRAFT = "tk_form"
STEPS = (
    "category",
    "building",
    "floor",
    "room",
    "duplicate",
    "description",
    "photos",
    "urgency",
    "summary",
    "edit",
)


class ReportDraft(BaseModel):
    """The report form's draft (user_data["tk_form"], field names as in earlier releases)."""

    category: str | None = None
    building: str | None = None
    floor: str | None = None  # None: not asked yet; "": skipped or not applicable
    room: str | None = None
    place: str | None = None
    place_done: bool = False
    dup_done: bool = False
    description: str | None = None
    voice: str | None = None  # a voice description's file id (it may stand for the text)
    voice_seconds: int = 0
    photos: list[str] = Field(default_factory=list)
    photos_done: bool = False
    urgency: str | None = None
    step: str = "category"
    # Names this submission: filed once even after a crash.
    token: str = Field(default_factory=lambda: secrets.token_hex(8))
    quick: bool = False  # a one-line report: filed without a summary when nothing is missing
    # Opened by scanning a place's QR sticker (its token): the place is filled in, the open
    # tickets there come first, the category follows from what is said (handlers/stickers.py).
    sticker: str | None = None
    equipment: str = ""  # the sticker's equipment at the place (投影仪), if any
    # The album (media group) whose photos were last acknowledged, and that acknowledgment:
    # an album gets one answer, edited as its photos arrive.
    album: str | None = None
    album_answer: int | None = None

    def report(self) -> act.Report:
        """What the draft reports (complete from the summary on; the place from the duplicate
        check on)."""
        return act.Report(
            category=self.category or "",
            place=self.place or "",
            description=self.description or "",
            urgency=self.urgency or "",
            building=self.building,
            floor=self.floor or None,
            room=self.room or None,
            photos=tuple(self.photos),
            voice=self.voice_description(),
        )

    def voice_description(self) -> act.Voice | None:
        """The voice message describing the fault, if one was sent."""
        return act.Voice(self.voice, self.voice_seconds) if self.voice else None


def _load(context: HouqinContext) -> ReportDraft | None:
    return load_draft(context, DRAFT, ReportDraft)


def _save(context: HouqinContext, form: ReportDraft) -> None:
    save_draft(context, DRAFT, form)


def _clear(context: HouqinContext) -> None:
    drop_draft(context, DRAFT)


def draft_from_line(profile: SchoolProfile, line: str) -> ReportDraft:
    """A draft from '/report 实验楼3楼女厕水龙头一直滴水': what the line tells, nothing more."""
    form = ReportDraft()
    category = profile.match_category(line)
    if category is not None:
        form.category = category.key
    place = profile.match_place(line)
    if place is not None:
        form.building = place.building.key
        form.floor = place.floor or ""
        form.room = place.room or ""
        form.place = profile.place_label(place.building, place.floor, place.room)
        form.place_done = True
    urgency = profile.match_urgency(line)
    form.description = line[:MAX_DESCRIPTION]
    form.photos_done = True
    form.urgency = (urgency or profile.default_urgency).key
    return form


def _next_step(form: ReportDraft) -> str:
    if not form.category and form.sticker is None:
        return "category"
    if not form.place_done:
        if form.building is None:
            return "building"
        if form.floor is None:
            return "floor"
        return "room"
    if not form.dup_done:
        return "duplicate"
    if not form.description and not form.voice:
        return "description"
    if not form.category:
        return "category"
    if not form.photos_done:
        return "photos"
    if not form.urgency:
        return "urgency"
    return "summary"


async def _duplicates(context: HouqinContext, form: ReportDraft) -> list[Ticket]:
    """The open tickets the form offers to join: of the same kind at the same place, or, from
    a sticker, every open ticket at that place."""
    return await act.duplicates(context.services, form.report(), any_category=bool(form.sticker))


def _sticker_category(context: HouqinContext, form: ReportDraft) -> None:
    """A report from a sticker gets its category once the fault is described."""
    if form.sticker and not form.category and (form.description or form.voice):
        profile = context.services.profile
        form.category = category_for(profile, form.description or "", form.equipment).key


def _finish_place(profile: SchoolProfile, form: ReportDraft) -> None:
    assert form.building is not None
    form.place = profile.place_label(form.building, form.floor or None, form.room or None)
    form.place_done = True


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
        return _("at a time agreed with you")
    return _("taken within {accept}, finished within {finish}").format(
        accept=duration_text(urgency.accept_within, _),
        finish=duration_text(urgency.finish_within, _),
    )


def _urgency_hint(profile: SchoolProfile, key: str, _: Translate) -> str:
    return _("{name}: {limits}").format(
        name=profile.urgency(key).name, limits=_urgency_limits(profile, key, _)
    )


def _summary(context: HouqinContext, form: ReportDraft) -> str:
    profile = context.services.profile
    _ = context._
    assert form.category and form.urgency
    lines = [
        _("<b>Please check your repair request</b>"),
        _("Category: {value}").format(value=esc(told.category_name(profile, form.category))),
        _("Place: {value}").format(value=esc(form.place)),
        _("Problem: {value}").format(
            value=esc(form.description or "") or _("(in the voice description)")
        ),
        _("Photos: {count}").format(count=len(form.photos)),
        _("Urgency: {value}").format(
            value=esc(
                _("{name} ({limits})").format(
                    name=profile.urgency(form.urgency).name,
                    limits=_urgency_limits(profile, form.urgency, _),
                )
            )
        ),
    ]
    voice = form.voice_description()
    if voice is not None:
        lines.insert(4, told.voice_line(voice, _))
    return "\n".join(lines)


async def _prompt_duplicates(
    update: Update, context: HouqinContext, form: ReportDraft, found: list[Ticket], prefix: str
) -> None:
    services = context.services
    _ = context._
    async with services.database.reading() as session:
        holders = {t.id: await told.holder_name(session, t) for t in found}
    if form.sticker:
        lines = [
            "📍 " + esc(form.place or ""),
            _("Already reported here and not finished yet:"),
        ]
    else:
        lines = [_("There is already an open request of this kind at this place:")]
    rows = []
    now = services.now()
    for ticket in found[:3]:
        lines.append(
            f"• <b>{esc(ticket.number)}</b> {esc(ticket.place)}: "
            f"{esc(ticket.description[:80]) or '🎤'} — "
            + told.status_line(ticket, holders.get(ticket.id), now, _)
        )
        label = _("Same problem: follow {number}").format(number=ticket.number)
        rows.append([form_button(label, FormChoice.JOIN, ticket.id)])
    if form.sticker:
        lines.append(
            _(
                "Is it the same problem? Follow it to get its updates. Something else? "
                "Just tell me what is wrong (text or voice)."
            )
        )
    else:
        lines.append(_("Is it the same problem? Follow it to get its updates."))
    rows.append([form_button(_("No, a different problem"), FormChoice.NEW)])
    await _send(update, context, prefix + "\n".join(lines), keyboard(rows))


def _step_prompt(
    context: HouqinContext, form: ReportDraft, step: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The text and buttons that ask a step."""
    profile = context.services.profile
    _ = context._
    markup: InlineKeyboardMarkup | None = None
    if step == "category":
        text = _("What kind of fault is it? Choose a category.")
        cats = [form_button(c.name, FormChoice.CATEGORY, c.key) for c in profile.repair.categories]
        markup = keyboard(rows_of(cats, 3))
    elif step == "building":
        text = _("Where is it? Choose the building, or type the place (e.g. 实验楼3楼女厕).")
        several = len(profile.campuses) > 1
        places = [
            form_button(
                b.name if not several else f"{c.name[:2]}·{b.name}", FormChoice.BUILDING, b.key
            )
            for c, b in profile.buildings()
        ]
        markup = keyboard(rows_of(places, 3))
    elif step == "floor":
        assert form.building is not None
        building = profile.building(form.building)
        text = _("Which floor of {building}? Or type the exact spot.").format(
            building=esc(building.name)
        )
        floors = [form_button(f, FormChoice.FLOOR, i) for i, f in enumerate(building.floors)]
        markup = keyboard(
            [
                *rows_of(floors, 4),
                [form_button(_("Not sure / whole building"), FormChoice.FLOOR, "x")],
            ]
        )
    elif step == "room":
        assert form.building is not None
        building = profile.building(form.building)
        rooms = building.rooms.get(form.floor or "", [])
        text = _("Which room on {place}? Or type the exact spot.").format(
            place=esc(building.name + (form.floor or ""))
        )
        room_buttons = [form_button(r, FormChoice.ROOM, i) for i, r in enumerate(rooms)]
        markup = keyboard(
            [*rows_of(room_buttons, 4), [form_button(_("Not sure"), FormChoice.ROOM, "x")]]
        )
    elif step == "description" and form.sticker:
        text = _(
            "📍 {place}\nWhat is wrong here? Say it in one message (at most {limit} characters), "
            "or send a voice message."
        ).format(place=esc(form.place or ""), limit=MAX_DESCRIPTION)
    elif step == "description":
        text = _(
            "What is wrong? Describe it in one message (at most {limit} characters), "
            "or send a voice message."
        ).format(limit=MAX_DESCRIPTION)
    elif step == "photos":
        count = len(form.photos)
        text = _(
            "Send photos of the fault (up to {limit}), then press Done. No photo? Press Skip."
        ).format(limit=MAX_PHOTOS)
        done = form_button(_("Done"), FormChoice.PHOTOS_DONE)
        if count:
            text = _("{count} photo(s) received. Send more, or press Done.").format(count=count)
            markup = keyboard([[done]])
        else:
            markup = keyboard([[done, form_button(_("Skip"), FormChoice.PHOTOS_DONE)]])
    elif step == "urgency":
        text = (
            _("How urgent is it?")
            + "\n"
            + "\n".join(
                "• " + esc(_urgency_hint(profile, u.key, _)) for u in profile.repair.urgencies
            )
        )
        if form.sticker:
            text += "\n" + _("Choosing it files your request.")
        markup = keyboard(
            [[form_button(u.name, FormChoice.URGENCY, u.key) for u in profile.repair.urgencies]]
        )
    else:
        text = _summary(context, form)
        markup = keyboard(
            [
                [
                    form_button(_("Submit"), FormChoice.SUBMIT),
                    form_button(_("Change"), FormChoice.EDIT),
                    form_button(_("Cancel"), FormChoice.CANCEL),
                ]
            ]
        )
    return text, markup


async def _prompt(
    update: Update, context: HouqinContext, form: ReportDraft, *, prefix: str = ""
) -> str:
    """Send the prompt of the draft's next step; returns the step."""
    await opening(context)  # the form opens (or goes on): a form left is said so first
    _sticker_category(context, form)
    step = _next_step(form)
    if step == "duplicate":
        found = await _duplicates(context, form)
        if found:
            form.step = "duplicate"
            _save(context, form)
            await _prompt_duplicates(update, context, form, found, prefix)
            return "duplicate"
        form.dup_done = True
        step = _next_step(form)
    form.step = step
    _save(context, form)
    text, markup = _step_prompt(context, form, step)
    await _send(update, context, prefix + text, markup)
    return step


async def _send(
    update: Update, context: HouqinContext, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    user = update.effective_user
    assert user is not None
    await context.bot.send_message(user.id, text, reply_markup=markup)


async def _advance(update: Update, context: HouqinContext, form: ReportDraft) -> object:
    """Ask the next step; a complete quick report (no duplicate) is filed at once."""
    _sticker_category(context, form)
    if form.quick and _next_step(form) == "duplicate":
        form.dup_done = not await _duplicates(context, form)
    if form.quick and _next_step(form) == "summary":
        return await _submit(update, context, form)
    return await _prompt(update, context, form)


# --- entry points --------------------------------------------------------------------------------


async def report_command(update: Update, context: HouqinContext) -> object:
    """/report [line] or the 我要报修 button in the private chat."""
    if not await may_report(update, context):
        return None
    line = " ".join(context.args or []).strip()
    if line:
        return await _quick(update, context, line)
    form = _load(context)
    if form is not None:
        return await _prompt(
            update, context, form, prefix=context._("Continuing your repair request.") + "\n"
        )
    return await _advance(update, context, ReportDraft())


async def start_report(update: Update, context: HouqinContext) -> object:
    """t.me/BOT?start=report: the deep link from a group."""
    if not await may_report(update, context):
        return None
    return await _advance(update, context, _load(context) or ReportDraft())


async def _quick(update: Update, context: HouqinContext, line: str) -> object:
    """A one-line report in the private chat: ask only what the line did not tell."""
    if await refuse_if_too_long(update, context, line, MAX_DESCRIPTION):
        return None
    form = draft_from_line(context.services.profile, line)
    form.quick = True
    return await _advance(update, context, form)


async def group_report(update: Update, context: HouqinContext) -> None:
    """/report in a group: a one-liner is filed from the line; the form goes to private."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if not await may_report(update, context):
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
    form.quick = True
    if _next_step(form) == "duplicate":
        found = await act.duplicates(services, form.report())
        form.dup_done = True
        if found:
            _save(context, form)
            ticket = found[0]
            assert ticket.id is not None
            await message.reply_text(
                _(
                    "{number} already reports this kind of fault at {place}. Same problem? "
                    "Follow it. Otherwise continue in private."
                ).format(number=esc(ticket.number), place=esc(ticket.place)),
                reply_markup=InlineKeyboardMarkup(
                    [
                        [button(_("Same problem"), TicketButton(Move.FOLLOW, ticket.id))],
                        [InlineKeyboardButton(_("No, a different problem"), url=link)],
                    ]
                ),
            )
            return
    if _next_step(form) != "summary":
        _save(context, form)
        missing = _("the place") if form.category else _("the category")
        if not form.category and not form.place_done:
            missing = _("the category and the place")
        await message.reply_text(
            _("I still need {missing}. Tap the button to finish in our private chat.").format(
                missing=missing
            ),
            reply_markup=InlineKeyboardMarkup([[go_private]]),
        )
        return
    ticket = await _file(update, context, form)
    filed = _("Filed as {number}: {place} · {category}.").format(
        number=f"<b>{esc(ticket.number)}</b>",
        place=esc(ticket.place),
        category=esc(told.category_name(services.profile, ticket.category_key)),
    )
    person = context.person
    if person is not None and person.reachable:
        await message.reply_text(filed + " " + _("Updates come in our private chat."))
    else:
        # Telegram lets the bot write to someone only once they opened its private chat.
        follow = deep_link(context.bot.username, UPDATES_PAYLOAD)
        await message.reply_text(
            filed
            + "\n"
            + _(
                "I cannot message you yet: tap the button to open our private chat. Until you "
                "do, you will not hear how the repair goes and cannot accept or rate it (the "
                "repair crew has the job either way); what I could not send you then comes at "
                "once."
            ),
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Get updates in private chat"), url=follow)]]
            ),
        )
    await told.publish_ticket(context.bot, services, ticket)


# --- filing --------------------------------------------------------------------------------------


async def _file(update: Update, context: HouqinContext, form: ReportDraft) -> Ticket:
    user = update.effective_user
    assert user is not None
    person = context.person
    name = person.name if person is not None else user.full_name
    if person is None and form.sticker:
        # Someone not registered who scanned a sticker: the card says so, in the group's language.
        t_ = group_translator(context.services)
        name = t_("{name} (visitor)").format(name=name)
    ticket = await act.file_report(
        context.services,
        form.report(),
        act.Reporter(user.id, name, person),
        token=form.token,
    )
    _clear(context)
    return ticket


async def _submit(update: Update, context: HouqinContext, form: ReportDraft) -> object:
    ticket = await _file(update, context, form)
    await told.publish_ticket(context.bot, context.services, ticket)
    return END


def register_outside(application: HouqinApp) -> None:
    """Handlers outside the form: /report in groups."""
    application.add_handler(CommandHandler("report", group_report, ~filters.ChatType.PRIVATE))
