"""/mylogs offers 补交 only for days the person was already registered on."""

from __future__ import annotations

from datetime import datetime

from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from storage.models import Role
from tests.conftest import SCHOOL_TZ
from tests.helpers import register


async def test_no_late_filing_offered_for_days_before_registration(
    bot: BotApiSandbox, services: Services, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 25, 10, tzinfo=SCHOOL_TZ))  # Wednesday: joined today
    newcomer = await register(bot, services, "周师傅", Role.STAFF, "guard")
    await newcomer.send("/mylogs")
    labels = [label for row in bot.last_message(newcomer.id).buttons for label in row]
    assert not any("补交" in label or "11-2" in label for label in labels), labels
    assert any("今天" in label for label in labels), labels

    clock.set(datetime(2026, 11, 27, 10, tzinfo=SCHOOL_TZ))  # Friday: Wed and Thu are missed
    await newcomer.send("/mylogs")
    labels = [label for row in bot.last_message(newcomer.id).buttons for label in row]
    late = [label for label in labels if "11-2" in label]
    assert [("11-25" in label, "11-26" in label) for label in late] == [
        (True, False),
        (False, True),
    ], labels
