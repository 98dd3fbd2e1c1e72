"""Work logs (工作日志): the feature's forms and handlers, for bot.app.

- `handlers.worklog_form`: the day's log form (/log, 📝, a reminder's button) and /mylogs;
- `handlers.worklog_duties`: /duties, the post-duties draft and the director's decision;
- `handlers.worklog_director`: /logs, /leave and /ledger.

Texts and buttons are in `notices.worklogs` (and `notices.worklog_views`), the use cases in
`actions.worklogs`, the rules in `storage.worklogs` and `storage.post_duties`.
"""

from __future__ import annotations

from telegram.ext import CommandHandler

from handlers import worklog_director, worklog_duties
from handlers.buttons import on_button
from handlers.context import HouqinApp
from handlers.forms import Form
from handlers.worklog_form import button_outside_the_form, log_form, mylogs
from notices.worklogs import LogFormButton


def register(application: HouqinApp) -> None:
    """Add this feature's commands and buttons (group 0; see bot.app for the order)."""
    application.add_handler(on_button(LogFormButton, button_outside_the_form))
    application.add_handler(CommandHandler("mylogs", mylogs))
    worklog_duties.register(application)
    worklog_director.register(application)


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms)."""
    return [log_form(), *worklog_duties.duties_forms()]
