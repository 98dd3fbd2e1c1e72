"""Meeting and reception services (会务与接待) on the handler side: registration, the
buttons on a booking's notices (approve, reject with a reason, tick a checklist step, a photo
of the set-up room, the requester's stars and comment) and their short forms.

The request form is handlers/booking_form.py (+ _input), the views handlers/booking_views.py;
what is said lives in notices/bookings.py, the use cases in actions/bookings.py, the rules in
storage/bookings.py.
"""

from __future__ import annotations

from pydantic import BaseModel
from telegram import Update
from telegram.ext import CommandHandler, MessageHandler, filters

from actions import bookings as act
from handlers import booking_form
from handlers.booking_form_input import button_pressed, message_given
from handlers.booking_views import ANYONE, meetings
from handlers.buttons import on_button
from handlers.common import allowed_press, reply, typed_text
from handlers.context import HouqinApp, HouqinContext
from handlers.forms import END, Form, drop_draft, load_draft, opening, save_draft
from handlers.menu import menu_filter
from handlers.ticket_form import PRIVATE_INPUT
from notices import bookings as told
from notices import outbox
from notices.bookings import (
    BookingAction,
    BookingButton,
    BookingFormButton,
    StarsButton,
    StepButton,
)
from notices.render import button, esc, keyboard
from school.i18n import N_
from storage import bookings as store
from storage.booking_models import BookingStatus
from storage.models import Role

DRAFT = "bk_act"
MAX_REASON = 300
MAX_COMMENT = 500


class ActDraft(BaseModel):
    """Which booking a reason, a photo or a comment is for."""

    booking_id: int


def _is(action: BookingAction) -> object:
    return lambda data: data.action == action


# --- the director's decision -------------------------------------------------------------------


async def approve_pressed(update: Update, context: HouqinContext, data: BookingButton) -> None:
    """批准: the series is assigned to the responsible posts and posted to the staff group."""
    query = await allowed_press(update, context, (Role.DIRECTOR,))
    if query is None:
        return
    assert context.person is not None
    services = context.services
    decided = await act.decide(services, data.booking_id, context.person, approve=True)
    _ = context._
    first = decided.bookings[0]
    head = (
        _("✅ Approved by {name}.").format(name=esc(context.person.name))
        if decided.changed
        else _("Already decided: {status}.").format(
            status=_(told.STATUS_LABELS[BookingStatus(first.status)])
        )
    )
    await query.answer()
    settings, tz = services.profile.bookings, services.profile.tz
    await query.edit_message_text(head + "\n" + told.card(settings, first, tz, _, steps=False))
    outbox.deliver_soon(context.bot, services)


async def reject_pressed(update: Update, context: HouqinContext, data: BookingButton) -> object:
    """驳回: ask the reason (the requester reads it)."""
    query = await allowed_press(update, context, (Role.DIRECTOR,))
    if query is None:
        return None
    async with context.services.database.reading() as session:
        booking = await store.get(session, data.booking_id)
    _ = context._
    if booking is None or booking.status != BookingStatus.PENDING:
        await query.answer(_("This request was decided already."), show_alert=True)
        return None
    await opening(context)
    await query.answer()
    save_draft(context, DRAFT, ActDraft(booking_id=data.booking_id))
    await context.bot.send_message(
        query.from_user.id,
        _("Why is {number} rejected? The requester will read your reason.").format(
            number=esc(booking.number)
        ),
    )
    return "reason"


async def reason_given(update: Update, context: HouqinContext) -> object:
    """The rejection's reason."""
    draft = load_draft(context, DRAFT, ActDraft)
    person = context.person
    if draft is None or person is None:
        return END
    text = await typed_text(
        update, context, MAX_REASON, if_empty=context._("Please type the reason in words.")
    )
    if text is None:
        return None
    decided = await act.decide(
        context.services, draft.booking_id, person, approve=False, reason=text
    )
    drop_draft(context, DRAFT)
    _ = context._
    await reply(
        update,
        context,
        _("Rejected; the requester was told why.")
        if decided.changed
        else _("This request was decided already."),
    )
    outbox.deliver_soon(context.bot, context.services)
    return END


# --- doing it ----------------------------------------------------------------------------------


async def step_pressed(update: Update, context: HouqinContext, data: StepButton) -> None:
    """Tick (or untick) a checklist step; the message shows the checklist as it is now."""
    query = await allowed_press(update, context, ANYONE)
    if query is None:
        return
    person = context.person
    assert person is not None
    services = context.services
    _ = context._
    try:
        change = await act.tick(services, data.booking_id, data.step, person)
    except store.NotAllowed:
        await query.answer(_("This task is not yours."), show_alert=True)
        return
    except LookupError:
        await query.answer(_("This booking no longer exists."), show_alert=True)
        return
    booking = change.booking
    settings, tz = services.profile.bookings, services.profile.tz
    if not change.changed:
        await query.answer(
            _("It is {status} now.").format(
                status=_(told.STATUS_LABELS[BookingStatus(booking.status)])
            ),
            show_alert=True,
        )
    else:
        done, total = told.progress(settings, booking)
        await query.answer(_("{done}/{total} done").format(done=done, total=total))
    await query.edit_message_text(
        told.card(settings, booking, tz, _),
        reply_markup=told.checklist_keyboard(settings, booking, _),
    )
    outbox.deliver_soon(context.bot, services)


async def photo_pressed(update: Update, context: HouqinContext, data: BookingButton) -> object:
    """📷: ask for the photo of the set-up room."""
    query = await allowed_press(update, context, ANYONE)
    if query is None:
        return None
    async with context.services.database.reading() as session:
        booking = await store.get(session, data.booking_id)
    if booking is None or not store.may(store.BookingMove.TICK, booking, context.person):
        await query.answer(context._("This task is not yours."), show_alert=True)
        return None
    await opening(context)
    await query.answer()
    save_draft(context, DRAFT, ActDraft(booking_id=data.booking_id))
    await context.bot.send_message(
        query.from_user.id,
        context._("Send the photo of the set-up room for {number} (or /cancel).").format(
            number=esc(booking.number)
        ),
    )
    return "photo"


async def photo_given(update: Update, context: HouqinContext) -> object:
    """The photo: kept and sent to the requester."""
    draft = load_draft(context, DRAFT, ActDraft)
    message = update.effective_message
    person = context.person
    if draft is None or person is None or message is None:
        return END
    if not message.photo:
        await reply(update, context, context._("Please send a photo, or /cancel."))
        return None
    booking = await act.add_photo(
        context.services, draft.booking_id, message.photo[-1].file_id, person
    )
    drop_draft(context, DRAFT)
    await reply(
        update,
        context,
        context._("Photo kept; {name} can see it.").format(name=esc(booking.requester_name)),
    )
    outbox.deliver_soon(context.bot, context.services)
    return END


async def withdraw_pressed(update: Update, context: HouqinContext, data: BookingButton) -> None:
    """撤销 on the requester's confirmation: the occurrences still ahead are withdrawn."""
    query = await allowed_press(update, context, ANYONE)
    if query is None:
        return
    person = context.person
    assert person is not None
    _ = context._
    try:
        withdrawn = await act.withdraw(context.services, data.booking_id, person)
    except (store.NotAllowed, LookupError):
        await query.answer(_("Only the requester can withdraw it."), show_alert=True)
        return
    if not withdrawn:
        await query.answer(_("Nothing left to withdraw."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_reply_markup(None)
    await context.bot.send_message(
        query.from_user.id,
        _("Withdrawn: {numbers}.").format(numbers=", ".join(esc(b.number) for b in withdrawn)),
    )
    outbox.deliver_soon(context.bot, context.services)


async def checklist_pressed(update: Update, context: HouqinContext, data: BookingButton) -> None:
    """A booking's checklist (from /meetings), for those who tick it."""
    query = await allowed_press(update, context, ANYONE)
    if query is None:
        return
    services = context.services
    async with services.database.reading() as session:
        booking = await store.get(session, data.booking_id)
    if booking is None or not store.may(store.BookingMove.TICK, booking, context.person):
        await query.answer(context._("This task is not yours."), show_alert=True)
        return
    await query.answer()
    settings, tz = services.profile.bookings, services.profile.tz
    await context.bot.send_message(
        query.from_user.id,
        told.card(settings, booking, tz, context._),
        reply_markup=told.checklist_keyboard(settings, booking, context._),
    )


# --- after: stars and a comment ------------------------------------------------------------------


async def stars_pressed(update: Update, context: HouqinContext, data: StarsButton) -> object:
    """The requester confirms and rates; then a comment may follow."""
    query = await allowed_press(update, context, ANYONE)
    if query is None:
        return None
    person = context.person
    assert person is not None
    _ = context._
    if not 1 <= data.stars <= 5:
        await query.answer(_("This button is not valid. Send /start to begin again."))
        return None
    try:
        change = await act.rate(context.services, data.booking_id, data.stars, person)
    except (store.NotAllowed, LookupError):
        await query.answer(_("Only the requester rates this service."), show_alert=True)
        return None
    if not change.changed:
        await query.answer(_("Already rated, thank you."), show_alert=True)
        return None
    await opening(context)
    await query.answer()
    await query.edit_message_text(
        _("Thank you! {number}: {stars}").format(
            number=esc(change.booking.number), stars="★" * data.stars
        )
    )
    save_draft(context, DRAFT, ActDraft(booking_id=data.booking_id))
    await context.bot.send_message(
        query.from_user.id,
        _("Any comment for the staff? Type it, or Skip."),
        reply_markup=keyboard(
            [[button(_("Skip"), BookingButton(BookingAction.SKIP_COMMENT, data.booking_id))]]
        ),
    )
    outbox.deliver_soon(context.bot, context.services)
    return "comment"


async def comment_given(update: Update, context: HouqinContext) -> object:
    """The requester's comment."""
    draft = load_draft(context, DRAFT, ActDraft)
    person = context.person
    if draft is None or person is None:
        return END
    text = await typed_text(
        update, context, MAX_COMMENT, if_empty=context._("Please type the comment, or Skip.")
    )
    if text is None:
        return None
    await act.comment(context.services, draft.booking_id, person, text)
    drop_draft(context, DRAFT)
    await reply(update, context, context._("Comment kept. Thank you!"))
    return END


async def comment_skipped(update: Update, context: HouqinContext, data: BookingButton) -> object:
    """Skip the comment."""
    query = update.callback_query
    assert query is not None
    drop_draft(context, DRAFT)
    await query.answer()
    await query.edit_message_text(context._("Thank you!"))
    return END


async def cancel_act(update: Update, context: HouqinContext) -> object:
    """/cancel while a reason, a photo or a comment is asked."""
    drop_draft(context, DRAFT)
    await reply(update, context, context._("Cancelled."))
    return END


def _request_form() -> Form:
    """The service request form, parked (its draft kept) when another form starts."""
    pressed = on_button(BookingFormButton, button_pressed)
    typed = MessageHandler(PRIVATE_INPUT, message_given)
    return Form(
        name="service",
        title=N_("service request"),
        entry_points=[
            CommandHandler("service", booking_form.service_command, filters.ChatType.PRIVATE),
            MessageHandler(menu_filter("service"), booking_form.service_command),
        ],
        steps={step: [pressed, typed] for step in booking_form.STEPS},
        cancel=booking_form.cancel,
        resume_hint=N_("Send /service to go on with it."),
        drafts=(booking_form.DRAFT,),
    )


# --- registration ------------------------------------------------------------------------------


def register(application: HouqinApp) -> None:
    """This feature's commands and buttons (group 0; see bot.app)."""
    application.add_handler(CommandHandler("meetings", meetings, filters.ChatType.PRIVATE))
    application.add_handler(
        on_button(BookingButton, approve_pressed, when=_is(BookingAction.APPROVE))  # type: ignore[arg-type]
    )
    application.add_handler(on_button(StepButton, step_pressed))
    for action, callback in (
        (BookingAction.CANCEL, withdraw_pressed),
        (BookingAction.CHECKLIST, checklist_pressed),
    ):
        application.add_handler(on_button(BookingButton, callback, when=_is(action)))  # type: ignore[arg-type]


def forms() -> list[Form]:
    """The request form (parked when another starts) and the short forms (closed)."""
    typed = MessageHandler(PRIVATE_INPUT, reason_given)
    photo = MessageHandler(PRIVATE_INPUT, photo_given)
    comment = MessageHandler(PRIVATE_INPUT, comment_given)
    return [
        _request_form(),
        Form(
            name="bkreason",
            title=N_("rejection reason"),
            entry_points=[
                on_button(BookingButton, reject_pressed, when=_is(BookingAction.REJECT))  # type: ignore[arg-type]
            ],
            steps={"reason": [typed]},
            cancel=cancel_act,
            drafts=(DRAFT,),
        ),
        Form(
            name="bkphoto",
            title=N_("set-up photo"),
            entry_points=[
                on_button(BookingButton, photo_pressed, when=_is(BookingAction.PHOTO))  # type: ignore[arg-type]
            ],
            steps={"photo": [photo]},
            cancel=cancel_act,
            drafts=(DRAFT,),
        ),
        Form(
            name="bkrate",
            title=N_("service rating"),
            entry_points=[on_button(StarsButton, stars_pressed)],
            steps={
                "comment": [
                    comment,
                    on_button(
                        BookingButton,
                        comment_skipped,
                        when=_is(BookingAction.SKIP_COMMENT),  # type: ignore[arg-type]
                    ),
                ]
            },
            cancel=cancel_act,
            drafts=(DRAFT,),
        ),
    ]
