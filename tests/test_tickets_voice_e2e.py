"""End to end: voice messages in repairs. A voice describes the fault (the form still asks
the category and place with its buttons), the repair group gets it under the card, and the
worker's voice note on 维修完成 reaches the reporter with the buttons to accept."""

from __future__ import annotations

from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import tickets
from storage.models import TicketStatus
from storage.tickets import Voice
from tests.helpers import private_text
from tests.test_tickets_e2e import Cast, _card, _last, _ticket, bot, cast, services

__all__ = ["bot", "cast", "services"]  # the fixtures of the ticket tests


def _voices(sandbox: BotApiSandbox, chat_id: int) -> list[SentMessage]:
    return [m for m in sandbox.messages(chat_id, from_bot=True) if m.kind == "voice"]


async def test_voice_report_reaches_the_crew_and_the_voice_note_the_reporter(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    teacher, plumber = cast.teacher, cast.plumber
    # a voice outside any form says how to report with one
    await teacher.send_voice(duration=2)
    assert "send /report and then your voice message" in private_text(bot, teacher)
    await teacher.send("/report")
    # the first message after /report is a voice: it is the description; the category is
    # still asked with its buttons (nothing can be read from a voice here)
    said = await teacher.send_voice(duration=12)
    assert said.voice is not None
    replies = bot.messages(teacher.private_chat_id, from_bot=True)[-2:]
    assert "Voice description received (0:12)" in replies[0].shown_text
    assert "category" in replies[1].shown_text and "水暖" in str(replies[1].buttons)
    await teacher.press(_last(bot, teacher), "水暖")
    await teacher.press(_last(bot, teacher), "实验楼")
    await teacher.press(_last(bot, teacher), "3楼")
    await teacher.press(_last(bot, teacher), "女厕")
    # described already: the form goes on to the photos
    assert "Send photos" in private_text(bot, teacher)
    await teacher.press(_last(bot, teacher), "Skip")
    await teacher.press(_last(bot, teacher), "一般")
    summary = _last(bot, teacher)
    assert "🎤 Voice description 0:12" in summary.shown_text
    assert "Problem: (in the voice description)" in summary.shown_text
    await teacher.press(summary, "Submit")
    ticket = await _ticket(services, "BX-2611-001")
    async with services.database.reading() as session:
        assert (await tickets.media_of(session, ticket.id or 0)).voice == Voice(
            said.voice["file_id"], 12
        )
    card = _card(bot, ticket)
    assert "🎤 Voice description 0:12" in card.shown_text
    # the voice itself, playable in the repair group, as a reply to the card
    [played] = _voices(bot, cast.repair.id)
    assert played.voice is not None and played.voice["file_id"] == said.voice["file_id"]
    assert played.reply_to == card.message_id and played.caption == ticket.number

    await plumber.press(_card(bot, ticket), "Take")
    await plumber.press(_card(bot, ticket), "Start repair")
    await plumber.press(_card(bot, ticket), "Repair done")
    await plumber.press(_last(bot, plumber), "Fixed")
    assert "voice message" in private_text(bot, plumber)
    note = await plumber.send_voice(duration=75)
    assert note.voice is not None
    await plumber.press(_last(bot, plumber), "⏭ Skip materials and hours")
    assert "is done" in private_text(bot, plumber)
    done = _last(bot, teacher)
    assert done.kind == "voice" and done.voice is not None
    assert done.voice["file_id"] == note.voice["file_id"]
    assert "repaired by 李师傅" in done.shown_text and "Voice note 1:15" in done.shown_text
    assert "Accept" in str(done.buttons)
    assert "🎤 1:15" in _card(bot, ticket).shown_text
    async with services.database.reading() as session:
        kept = (await tickets.media_of(session, ticket.id or 0)).done_voice
    assert kept == Voice(note.voice["file_id"], 75)
    await teacher.press(done, "Accept")
    await teacher.press(_last(bot, teacher), "★★★★★")
    assert (await _ticket(services, ticket.number)).status == TicketStatus.CLOSED


async def test_voice_where_a_button_is_expected_is_kept(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    teacher, plumber = cast.teacher, cast.plumber
    await teacher.send("/report")
    await teacher.press(_last(bot, teacher), "电/照明")
    await teacher.send("教学楼301")
    # at the description step a voice is the description
    assert "or send a voice message" in private_text(bot, teacher)
    first = await teacher.send_voice(duration=5)
    assert "Send photos" in private_text(bot, teacher)
    await teacher.send_photo()
    await teacher.press(_last(bot, teacher), "Done")
    # a voice where the urgency buttons wait: said plainly, the buttons asked again, nothing lost
    second = await teacher.send_voice(duration=9)
    assert first.voice is not None and second.voice is not None
    replies = bot.messages(teacher.private_chat_id, from_bot=True)[-2:]
    assert "Voice description replaced (0:09)" in replies[0].shown_text
    assert "How urgent" in replies[1].shown_text and "一般" in str(replies[1].buttons)
    await teacher.press(_last(bot, teacher), "一般")
    summary = _last(bot, teacher)
    assert "教学楼301" in summary.shown_text and "Photos: 1" in summary.shown_text
    assert "🎤 Voice description 0:09" in summary.shown_text
    await teacher.press(summary, "Submit")
    ticket = await _ticket(services, "BX-2611-001")
    async with services.database.reading() as session:
        assert (await tickets.media_of(session, ticket.id or 0)).voice == Voice(
            second.voice["file_id"], 9
        )
        assert len((await tickets.media_of(session, ticket.id or 0)).photos) == 1
    # the worker speaks before choosing the result: the voice is kept and is the note
    await plumber.press(_card(bot, ticket), "Take")
    await plumber.press(_card(bot, ticket), "Repair done")
    choose = _last(bot, plumber)
    note = await plumber.send_voice(duration=4)
    assert note.voice is not None
    assert "Voice note kept (0:04)" in private_text(bot, plumber)
    await plumber.press(choose, "Replaced")
    await plumber.press(_last(bot, plumber), "⏭ Skip materials and hours")
    done = _last(bot, teacher)
    assert done.kind == "voice" and done.voice is not None
    assert done.voice["file_id"] == note.voice["file_id"]
    assert (await _ticket(services, ticket.number)).status == TicketStatus.AWAITING_ACCEPTANCE
