"""A registered person opening an invite link keeps who they are: a link never changes a role,
and the link stays unused for the colleague it was made for."""

from __future__ import annotations

from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage import people
from storage.models import Invite, Role
from tests.helpers import person_of, register


async def test_the_only_director_opening_a_teachers_invite_stays_director(
    bot: BotApiSandbox, services: Services
) -> None:
    sandbox = bot
    director = await register(sandbox, services, "王主任", Role.DIRECTOR)
    async with services.database.transaction() as session:
        invite = await people.create_invite(session, role=Role.TEACHER, now=services.now())
    await director.start_bot(invite.code)
    answer = sandbox.last_message(director.id).shown_text
    assert "你已注册为：王主任 · 后勤主任" in answer
    assert "不会改变你的身份" in answer
    person = await person_of(services, director)
    assert person.role == Role.DIRECTOR
    async with services.database.reading() as session:
        stored = await session.get(Invite, invite.id)
        assert stored is not None and stored.uses == 0  # still there for a new teacher
    teacher = await register(sandbox, services, "李老师", Role.TEACHER)
    assert (await person_of(services, teacher)).role == Role.TEACHER
    # The director can still do what only a director can.
    await director.send("/people")
    assert "只有后勤主任" not in sandbox.last_message(director.id).shown_text
