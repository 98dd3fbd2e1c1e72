"""Repairs (报修) on the handler side: registration.

The modules of the feature:
- handlers/ticket_form.py and ticket_form_input.py: the report form (/report, 我要报修, the deep
  link, one-line reports);
- handlers/ticket_jobs.py: the buttons on cards, notices and /mytickets;
- handlers/ticket_act.py: the form that asks a reason, a date, a result or a rating after one
  of them;
- handlers/ticket_lists.py: /mytickets and /tickets;
- handlers/ticket_presses.py: who may report, and the answers every ticket button shares;
- handlers/stickers.py: QR stickers per place (扫码报修): a scan opens the report form at the
  place; /stickers prints them.
What is said lives in notices/tickets.py, the use cases in actions/tickets.py, the status
table in storage/ticket_flow.py.
"""

from __future__ import annotations

from telegram.ext import CommandHandler, MessageHandler, filters

from handlers import (
    stickers,
    ticket_act,
    ticket_form,
    ticket_form_input,
    ticket_jobs,
    ticket_lists,
)
from handlers.buttons import on_button
from handlers.context import HouqinApp
from handlers.forms import Form
from handlers.menu import menu_filter
from handlers.ticket_form import UPDATES_PAYLOAD

# --- registration --------------------------------------------------------------------------------


def register(application: HouqinApp) -> None:
    """Add this feature's commands and buttons (group 0; see bot.app for the order). Its forms
    are in `forms()`, owned by the form owner."""
    ticket_form.register_outside(application)
    for handler in ticket_jobs.buttons():
        application.add_handler(handler)
    application.add_handler(
        CommandHandler(
            "start",
            ticket_lists.start_updates,
            filters.ChatType.PRIVATE & filters.Regex(rf"^/start {UPDATES_PAYLOAD}$"),
        )
    )
    application.add_handler(CommandHandler("mytickets", ticket_lists.my_tickets))
    application.add_handler(MessageHandler(menu_filter("mytickets"), ticket_lists.my_tickets))
    application.add_handler(CommandHandler("tickets", ticket_lists.open_tickets))
    application.add_handler(MessageHandler(menu_filter("tickets"), ticket_lists.open_tickets))
    application.add_handler(on_button(ticket_lists.TicketListButton, ticket_lists.filter_button))
    stickers.register(application)


def forms() -> list[Form]:
    """This feature's forms, for the form owner (handlers.forms): the report form (parked when
    another form starts) and the act form (closed)."""
    return [ticket_form_input.form(), ticket_act.act_form()]
