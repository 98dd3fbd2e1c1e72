# ruff: noqa: F811  (the fixtures come from test_tickets_e2e and are named as parameters)
"""A repair job never waits for someone who is gone, and a 催办 never reports success that
reached no one."""

from __future__ import annotations

from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import people
from storage.models import Person, TicketStatus
from tests.helpers import private_text
from tests.test_tickets_e2e import (  # noqa: F401 (fixtures)
    Cast,
    _card,
    _last,
    _quick_report,
    _ticket,
    bot,
    cast,
    services,
)


async def test_a_deactivated_workers_jobs_go_back_to_the_repair_group(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    first = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    second = await _quick_report(services, bot, cast, "教学楼3楼301窗户关不上")
    await cast.plumber.press(_card(bot, first), "Take")
    await cast.plumber.press(_card(bot, second), "Take")
    await cast.plumber.press(_card(bot, second), "Start repair")
    await cast.director.send("/people")
    await cast.director.press(_last(bot, cast.director), "李师傅")
    answer = await cast.director.press(_last(bot, cast.director), "Yes, deactivate")
    assert answer is not None and "李师傅 is deactivated" in str(answer.text)
    told_director = private_text(bot, cast.director)
    assert first.number in told_director and second.number in told_director
    for ticket in (first, second):
        now = await _ticket(services, ticket.number)
        assert now.status == TicketStatus.OPEN and now.assignee_id is None
        card = _card(bot, now)
        assert card.buttons[0][0] == "Take" and "Waiting" in card.shown_text, card.shown_text
    in_group = [m.shown_text for m in bot.messages(cast.repair.id, from_bot=True)]
    assert sum("no longer handles repairs" in text for text in in_group) == 2
    assert "no longer handles repairs" in private_text(bot, cast.teacher)
    # 催办 on a job back in the queue reminds the group, and says so
    await cast.teacher.send("/mytickets")
    nudged = await cast.teacher.press(_last(bot, cast.teacher), "Nudge 001")
    assert nudged is not None and "the repair group has been reminded" in str(nudged.text)
    assert "please deal with it" in bot.last_message(cast.repair.id).shown_text
    # 赵师傅 takes it from the group's card
    await cast.fixer.press(_card(bot, first), "Take")
    assert (await _ticket(services, first.number)).status == TicketStatus.ACCEPTED


async def test_a_nudge_nobody_can_receive_is_not_reported_as_sent(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    ticket = await _quick_report(services, bot, cast, "实验楼3楼女厕水龙头一直滴水")
    await cast.plumber.press(_card(bot, ticket), "Take")
    # an install that deactivated 李师傅 before jobs went back, and no repair group any more
    async with services.database.transaction() as session:
        plumber = await people.get_person_by_telegram_id(session, cast.plumber.id)
        assert isinstance(plumber, Person) and plumber.id is not None
        await people.deactivate_person(session, plumber.id, now=services.now())
    await cast.director.send("/unbind", chat=cast.repair)
    before = len(bot.messages(cast.plumber.private_chat_id, from_bot=True))
    await cast.teacher.send("/mytickets")
    refused = await cast.teacher.press(_last(bot, cast.teacher), "Nudge 001")
    assert refused is not None and "Nobody could be reminded" in str(refused.text)
    assert len(bot.messages(cast.plumber.private_chat_id, from_bot=True)) == before
    # nothing was recorded: once the group is back, the nudge goes through at once
    await cast.director.send("/bind repair", chat=cast.repair)
    again = await cast.teacher.press(_last(bot, cast.teacher), "Nudge 001")
    assert again is not None and "the repair group has been reminded" in str(again.text)


async def test_an_unregistered_group_reporter_gets_a_way_into_the_private_chat(
    bot: BotApiSandbox, services: Services, cast: Cast
) -> None:
    # 陈老师 is in the teachers' group but never opened a chat with the bot
    newcomer = bot.add_user("陈老师")
    cast.teachers.add_member(newcomer)
    await newcomer.send("/report 实验楼3楼女厕水龙头一直滴水", chat=cast.teachers)
    answer = bot.last_message(cast.teachers.id)
    assert "BX-2611-001" in answer.shown_text
    assert "Updates come in our private chat" not in answer.shown_text
    assert "cannot accept or rate" in answer.shown_text
    assert answer.buttons == [["Get updates in private chat"]]
    button = answer.inline_keyboard[0][0]
    assert str(button.get("url", "")).endswith("?start=updates")
    ticket = await _ticket(services, "BX-2611-001")
    await cast.plumber.press(_card(bot, ticket), "Take")
    assert bot.messages(newcomer.private_chat_id, from_bot=True) == []
    # the button opens the chat: what could not be sent arrives, and the list
    await newcomer.send("/start updates")
    received = [m.shown_text for m in bot.messages(newcomer.private_chat_id, from_bot=True)]
    assert any("progress of your repair requests comes here" in t for t in received)
    assert any("Your repair request is filed: BX-2611-001" in t for t in received)
    assert any("was taken by 李师傅" in t for t in received)
    # from now on the notices reach them, and they can accept and rate
    await cast.plumber.press(_card(bot, ticket), "Repair done")
    await cast.plumber.press(_last(bot, cast.plumber), "Fixed")
    await cast.plumber.press(_last(bot, cast.plumber), "Skip")
    await cast.plumber.press(_last(bot, cast.plumber), "⏭ Skip materials and hours")
    done = bot.last_message(newcomer.private_chat_id)
    await newcomer.press(done, "Accept")
    # the notice's buttons go once one is pressed: an old notice never offers the move again
    notice = [m for m in bot.messages(newcomer.private_chat_id) if m.message_id == done.message_id]
    assert notice[0].buttons == []
    await newcomer.press(bot.last_message(newcomer.private_chat_id), "★★★★★")
    assert (await _ticket(services, ticket.number)).status == TicketStatus.CLOSED
