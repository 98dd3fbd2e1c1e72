"""The form owner: one form per person at a time, whatever feature it belongs to.

Every multi-step form (the report form, a repair job's reason or result, the work log, post
duties, the inspection walk, the director's /rate walk …) is declared the same way, as a
`Form`: its name, how it starts (`entry_points`), its named steps (step name → the handlers
of that step's input), what /cancel does, and how it is resumed. Its draft is a pydantic
model kept as JSON in `user_data` (`load_draft` / `save_draft`), so a restart resumes it.

`FormOwner` turns the declarations into ONE persistent python-telegram-bot
ConversationHandler, keyed per person (not per chat: a button pressed in the repair group
continues in the presser's private chat). Its states are "<form>.<step>". So:

- input always goes to the form the person is in (the one they last saw), never to another
  feature's half-finished form;
- starting a form (command, menu button, a reminder's button, a deep link) while another is
  open parks the other (its draft stays; one line says how to go back to it) or, for short
  forms that are not worth keeping (a reason being typed), closes it — and says so in one line,
  before the new form's first prompt: an entry point calls `opening(context)` once it is sure
  to open its form, before it sends anything (one that does not gets the line after);
- an entry point that opens nothing (refused, not allowed) leaves the current form as it was;
- /cancel cancels the form the person is in.

A step's callback returns the next step's name (a key of `steps`), `END` to close the form,
or None to stay where it is.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, filters
from telegram.warnings import PTBUserWarning

from handlers.context import HouqinContext

log = logging.getLogger(__name__)

END = ConversationHandler.END
CONVERSATION = "forms"  # the persistent conversation's name
ACTIVE = "active_form"  # user_data key: the state "<form>.<step>" the person is in

D = TypeVar("D", bound=BaseModel)
Callback = Callable[[Update, HouqinContext], Awaitable[object]]
StepCallback = Callable[[Update, HouqinContext], Coroutine[Any, Any, object]]
AnyHandler = BaseHandler[Update, HouqinContext, object]


@dataclass(frozen=True)
class Form:
    """A multi-step form, declared as a table (see the module docstring)."""

    name: str  # "report", "log", … (no dots)
    title: str  # N_() message id naming the form in one-line notices: "repair request"
    entry_points: Sequence[AnyHandler]
    steps: Mapping[str, Sequence[AnyHandler]]
    cancel: Callback  # /cancel while in this form; returns END
    # N_() message id: how to go back to a parked form ("Send /report to go on with it.").
    # None: the form is closed (its drafts dropped) when another form starts.
    resume_hint: str | None = None
    drafts: Sequence[str] = ()  # user_data keys of the form's drafts
    # Handlers that apply in every step of this form (e.g. /inspections inside the walk).
    everywhere: Sequence[AnyHandler] = field(default_factory=tuple)


def state_of(form: str, step: str) -> str:
    """The conversation state of a form's step."""
    return f"{form}.{step}"


def active_state(context: HouqinContext) -> str | None:
    """The state "<form>.<step>" the person is in, or None."""
    state = (context.user_data or {}).get(ACTIVE)
    return state if isinstance(state, str) else None


def active_form(context: HouqinContext) -> str | None:
    """The name of the form the person is in, or None."""
    state = active_state(context)
    return state.split(".", 1)[0] if state else None


# --- typed drafts ------------------------------------------------------------------------------


def load_draft(context: HouqinContext, key: str, model: type[D]) -> D | None:
    """The draft kept under `key`, or None (none, or one an older release wrote that no longer
    reads: it is dropped and logged rather than misread)."""
    raw = (context.user_data or {}).get(key)
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        log.warning("dropped an unreadable %s draft: %s", key, exc.errors()[:3])
        drop_draft(context, key)
        return None


def save_draft(context: HouqinContext, key: str, draft: BaseModel) -> None:
    """Keep the draft as JSON (written to the database after the update)."""
    assert context.user_data is not None
    context.user_data[key] = draft.model_dump(mode="json")


def drop_draft(context: HouqinContext, key: str) -> None:
    """Forget the draft under `key`."""
    if context.user_data is not None:
        context.user_data.pop(key, None)


# --- the owner -----------------------------------------------------------------------------------


async def opening(context: HouqinContext) -> None:
    """Called by an entry point once it is sure to open its form, before its first prompt: the
    form the person was in is put aside (or closed) now, and the line saying so comes first.
    Nothing happens outside an entry point, or when the person was in no other form."""
    leave, context.leaving_form = context.leaving_form, None
    if leave is not None:
        await leave()


class FormOwner:
    """Builds the one conversation that owns every form (see the module docstring)."""

    def __init__(self, forms: Sequence[Form], *, outside_cancel: Callback) -> None:
        names = [form.name for form in forms]
        if len(set(names)) != len(names) or any("." in name for name in names):
            raise ValueError(f"form names must be unique and without dots: {names}")
        self.forms = {form.name: form for form in forms}
        self.outside_cancel = outside_cancel

    def conversation(self, name: str = CONVERSATION) -> ConversationHandler[HouqinContext]:
        """The ConversationHandler to register first in the main handler group."""
        entry_points: list[AnyHandler] = []
        states: dict[object, list[AnyHandler]] = {}
        wrapped: set[int] = set()  # a handler shared by several steps is wrapped once
        for form in self.forms.values():
            for handler in form.entry_points:
                if id(handler) in wrapped:
                    raise ValueError(f"form {form.name!r}: a handler is used twice as entry")
                handler.callback = self._entering(form, handler.callback)
                wrapped.add(id(handler))
                entry_points.append(handler)
            entries = {id(handler) for handler in form.entry_points}
            for step, handlers in form.steps.items():
                step_handlers = [*handlers, *form.everywhere]
                for handler in step_handlers:
                    if id(handler) in entries:
                        raise ValueError(f"form {form.name!r}: an entry point is also a step")
                    if id(handler) not in wrapped:
                        handler.callback = self._stepping(form, handler.callback)
                        wrapped.add(id(handler))
                states[state_of(form.name, step)] = step_handlers
        with warnings.catch_warnings():
            # Keyed per person on purpose (per_chat=False, per_message=False): a button pressed
            # in a group continues in the presser's private chat, and a form's buttons work on
            # any of its messages.
            warnings.simplefilter("ignore", PTBUserWarning)
            return ConversationHandler(
                entry_points=entry_points,
                states=states,
                fallbacks=[CommandHandler("cancel", self._cancel, filters.ChatType.PRIVATE)],
                name=name,
                persistent=True,
                allow_reentry=True,
                per_chat=False,
            )

    def _resolve(self, form: Form, result: object) -> str | int | None:
        """The conversation state for what a form's callback returned."""
        if result is None:
            return None
        if result == END:
            return END
        if isinstance(result, str) and result in form.steps:
            return state_of(form.name, result)
        raise ValueError(f"form {form.name!r}: unknown step {result!r}")

    def _entering(self, form: Form, callback: Any) -> StepCallback:
        async def entered(update: Update, context: HouqinContext) -> object:
            previous = active_state(context)
            previous_form = previous.split(".", 1)[0] if previous else None
            left = previous_form is None or previous_form == form.name

            async def leave() -> None:
                nonlocal left
                left = True
                await self._leave(update, context, self.forms.get(previous_form or ""))

            context.leaving_form = None if left else leave
            try:
                state = self._resolve(form, await callback(update, context))
            finally:
                context.leaving_form = None
            if state is None or state == END:
                # Nothing was opened: whatever form the person was in stays as it was.
                if previous is not None and active_form(context) != form.name:
                    return previous
                if state == END:
                    _set_active(context, None)
                return state
            if not left:  # the entry point did not say when: the line comes after its prompt
                await leave()
            _set_active(context, str(state))
            return state

        return entered

    def _stepping(self, form: Form, callback: Any) -> StepCallback:
        async def stepped(update: Update, context: HouqinContext) -> object:
            state = self._resolve(form, await callback(update, context))
            if state == END:
                _set_active(context, None)
            elif state is not None:
                _set_active(context, str(state))
            return state

        return stepped

    async def _leave(self, update: Update, context: HouqinContext, form: Form | None) -> None:
        """Park or close `form` because another one starts, and say so in one line."""
        if form is None:
            return
        _ = context._
        if form.resume_hint is not None:
            text = _("Your {form} is put aside. {how}").format(
                form=_(form.title), how=_(form.resume_hint)
            )
        else:
            for key in form.drafts:
                drop_draft(context, key)
            text = _("Your {form} was cancelled.").format(form=_(form.title))
        chat = update.effective_user
        if chat is None:
            return
        try:
            await context.bot.send_message(chat.id, text)
        except TelegramError:
            log.warning("could not tell %s that a form was left", chat.id, exc_info=True)

    async def _cancel(self, update: Update, context: HouqinContext) -> object:
        name = active_form(context)
        form = self.forms.get(name) if name else None
        if form is None:
            _set_active(context, None)
            await self.outside_cancel(update, context)
            return END
        await form.cancel(update, context)
        _set_active(context, None)
        return END


def _set_active(context: HouqinContext, state: str | None) -> None:
    if context.user_data is None:
        return
    if state is None:
        context.user_data.pop(ACTIVE, None)
    else:
        context.user_data[ACTIVE] = state
