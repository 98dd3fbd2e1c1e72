"""Crashes lose nothing in the forms' last steps: `houqin run` killed with SIGKILL after a work
log or an inspection mark is stored and before the person is told, then started again (see
tests/test_crash_recovery.py for the harness). What is stored is there, nothing said so before
it was, and the same press after the restart goes on without storing anything twice."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from devtools.harness import WAIT, BotProcess, until
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from storage import people
from storage.database import Database
from storage.models import InspectionAssignment, InspectionMark, InspectionRound, Role, WorkLog
from tests import test_crash_recovery as crash
from tests.test_crash_recovery import all_tickets, join, step
from tests.test_inspections_e2e import by_data

# The harness's fixtures: the sandbox, the bot as a process, and its database.
sandbox = crash.sandbox
houqin = crash.houqin
db = crash.db


# --- between saving a work log and saying so ---------------------------------------------


async def test_killed_after_a_log_is_saved_the_form_says_nothing_yet_and_saves_once_more(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    """Save is stored before anything says so: killed while the answer is on its way, the log
    is there, no message said it was saved, and the form's Save still works after the restart
    (it updates the same log)."""
    await houqin.start()
    cleaner = await join(sandbox, db, Role.STAFF, "陈阿姨", "cleaner")
    form = await step(sandbox, cleaner, "/log", "Work log", press=False)
    mark = sandbox.mark()
    await cleaner.send("打扫教学楼一楼", settle=False)
    await sandbox.wait_for_message(
        cleaner.id, lambda m: "1. 打扫教学楼一楼" in m.shown_text, since=mark
    )

    faults = sandbox.stats["faults"]
    sandbox.fail_next("answerCallbackQuery", status=0, delay=30)  # Save's answer: held
    mark = sandbox.mark()
    await cleaner.press(form, "Save", settle=False)
    await until(lambda: sandbox.stats["faults"] > faults, "the bot to answer the Save press")
    await houqin.kill()
    assert len(await all_logs(db)) == 1  # stored first
    assert not [m for m in sandbox.bot_messages_since(mark) if "saved" in m.shown_text]
    assert any("Save" in label for row in form.buttons for label in row)

    await houqin.start()
    mark = sandbox.mark()
    await cleaner.press(form, "Save", settle=False)
    await sandbox.wait_for_message(cleaner.id, lambda m: "is updated" in m.shown_text, since=mark)
    await houqin.stop()
    [log] = await all_logs(db)
    assert log.items == ["打扫教学楼一楼"]


async def all_logs(db: Database) -> list[WorkLog]:
    async with db.reading() as session:
        return list((await session.exec(select(WorkLog))).all())


# --- between storing an inspection mark and showing it ---------------------------------


async def test_killed_after_a_mark_is_stored_the_walk_moves_on_with_it_once(
    sandbox: BotApiSandbox, houqin: BotProcess, db: Database
) -> None:
    """正常 is stored before the walk shows it: killed while the answer is on its way, the
    mark is there and the walk message still shows the item; pressed again after the restart,
    the walk goes on to the next item and the item is marked once."""
    await houqin.start()
    plumber = await join(sandbox, db, Role.STAFF, "李师傅", "electrician")
    now = SystemClock().now()
    async with db.transaction() as session:
        me = await people.get_person_by_telegram_id(session, plumber.id)
        assert me is not None and me.id is not None
        opened = InspectionRound(
            plan_key="weekly",
            occurrence=now - timedelta(hours=1),
            opened_at=now - timedelta(hours=1),
            deadline_at=now + timedelta(days=1),
        )
        session.add(opened)
        await session.flush()
        assert opened.id is not None
        rid = opened.id
        session.add(InspectionAssignment(round_id=rid, person_id=me.id))
    listing = await step(sandbox, plumber, "/inspections", "inspection rounds", press=False)
    mark = sandbox.mark()
    await plumber.press(listing, by_data(listing, f"ins2:start:{rid}:"), settle=False)
    walk = await sandbox.wait_for_message(
        plumber.id, lambda m: "人走灯灭" in m.shown_text, since=mark, timeout=WAIT
    )
    ok = by_data(walk, f"ins2:ok:{rid}:lights_off")

    faults = sandbox.stats["faults"]
    sandbox.fail_next("answerCallbackQuery", status=0, delay=30)  # the press's answer: held
    await plumber.press(walk, ok, settle=False)
    await until(lambda: sandbox.stats["faults"] > faults, "the bot to answer the press")
    await houqin.kill()
    assert [m.item_key for m in await all_marks(db)] == ["lights_off"]  # stored first
    assert "人走灯灭" in walk.shown_text and by_data(walk, f"ins2:ok:{rid}:lights_off")

    await houqin.start()
    mark = sandbox.mark()
    await plumber.press(walk, ok, settle=False)
    await sandbox.wait_for_message(
        plumber.id, lambda m: "空调" in m.shown_text, since=mark, timeout=WAIT
    )
    assert [m.item_key for m in await all_marks(db)] == ["lights_off"]

    # An 异常: killed while its place press is answered, it is recorded (with its repair job)
    # and the place buttons are still there; pressed again, nothing is recorded twice.
    await plumber.press(walk, by_data(walk, f"ins2:bad:{rid}:ac_temperature"), settle=False)
    await step(sandbox, plumber, "空调开着门窗", "photo", press=False)
    place = await step(sandbox, plumber, "Skip", "Where exactly")
    no_place = by_data(place, f"ins2:pl:{rid}:")
    faults = sandbox.stats["faults"]
    sandbox.fail_next("answerCallbackQuery", status=0, delay=30)
    await plumber.press(place, no_place, settle=False)
    await until(lambda: sandbox.stats["faults"] > faults, "the bot to answer the press")
    await houqin.kill()
    assert [m.item_key for m in await all_marks(db)] == ["lights_off", "ac_temperature"]
    assert len(await all_tickets(db)) == 1
    assert by_data(place, f"ins2:pl:{rid}:")

    await houqin.start()
    mark = sandbox.mark()
    await plumber.press(place, no_place, settle=False)
    await sandbox.wait_for_message(
        plumber.id, lambda m: "电脑" in m.shown_text, since=mark, timeout=WAIT
    )
    await houqin.stop()
    assert [m.item_key for m in await all_marks(db)] == ["lights_off", "ac_temperature"]
    assert len(await all_tickets(db)) == 1


async def all_marks(db: Database) -> list[InspectionMark]:
    async with db.reading() as session:
        return list((await session.exec(select(InspectionMark))).all())
