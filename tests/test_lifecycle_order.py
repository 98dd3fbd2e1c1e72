"""Per-person order: each person's updates run one at a time in arrival order, whatever the
burst; different people's run side by side (bot.app.PerPersonUpdateProcessor).

The updates are fed to the processor as python-telegram-bot's update fetcher does: one task
per update, created in the order Telegram delivered them, in batches (getUpdates answers with
what has arrived so far, so an album of ten often comes in two or three batches).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.app import PerPersonUpdateProcessor

_ids = iter(range(1, 1_000_000))


def _update(user_id: int) -> Update:
    number = next(_ids)
    user = User(user_id, f"user {user_id}", is_bot=False)
    message = Message(
        number, datetime.now(UTC), Chat(user_id, Chat.PRIVATE), from_user=user, text="photo"
    )
    return Update(number, message=message)


class Journal:
    """Handlers that write down when they start and end."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, int, str]] = []  # (person, number, "start" or "end")

    async def handle(self, person: str, number: int, seconds: float = 0.01) -> None:
        self.lines.append((person, number, "start"))
        await asyncio.sleep(seconds)
        self.lines.append((person, number, "end"))

    def of(self, person: str) -> list[tuple[int, str]]:
        return [(number, what) for who, number, what in self.lines if who == person]

    def ended(self, person: str, number: int) -> bool:
        return (person, number, "end") in self.lines


def _dispatch(
    processor: PerPersonUpdateProcessor, journal: Journal, person: str, user_id: int, numbers: range
) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(
            processor.process_update(_update(user_id), journal.handle(person, number))
        )
        for number in numbers
    ]


async def _until(condition: object) -> None:
    assert callable(condition)
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("timed out")


async def test_an_album_in_three_batches_runs_in_order_one_at_a_time() -> None:
    processor = PerPersonUpdateProcessor()
    journal = Journal()
    tasks = _dispatch(processor, journal, "teacher", 7, range(1, 2))  # the first photo
    await _until(lambda: journal.lines)
    tasks += _dispatch(processor, journal, "teacher", 7, range(2, 6))  # while it is handled
    await _until(lambda: journal.ended("teacher", 1))
    tasks += _dispatch(processor, journal, "teacher", 7, range(6, 11))  # photos 2-5 still wait
    await asyncio.gather(*tasks)

    expected = [(n, what) for n in range(1, 11) for what in ("start", "end")]
    assert journal.of("teacher") == expected


async def test_a_person_flooding_the_bot_does_not_hold_up_someone_else() -> None:
    processor = PerPersonUpdateProcessor(2)  # two updates at a time
    journal = Journal()
    flood = _dispatch(processor, journal, "flooder", 1, range(1, 51))
    [other] = _dispatch(processor, journal, "other", 2, range(1, 2))
    await other
    # The other person's update ran beside the flood, not after it.
    assert sum(1 for who, _n, what in journal.lines if who == "flooder" and what == "end") < 5
    await asyncio.gather(*flood)
    assert journal.of("flooder") == [(n, w) for n in range(1, 51) for w in ("start", "end")]


async def test_different_people_run_side_by_side() -> None:
    processor = PerPersonUpdateProcessor()
    journal = Journal()
    release = asyncio.Event()

    async def slow() -> None:
        journal.lines.append(("slow", 1, "start"))
        await release.wait()
        journal.lines.append(("slow", 1, "end"))

    blocked = asyncio.create_task(processor.process_update(_update(1), slow()))
    await _until(lambda: journal.lines)
    await asyncio.gather(*_dispatch(processor, journal, "quick", 2, range(1, 4)))
    assert journal.of("quick")[-1] == (3, "end") and not journal.ended("slow", 1)
    release.set()
    await blocked
    assert processor.current_concurrent_updates == 0


async def test_an_update_cancelled_while_queued_does_not_let_the_next_overtake() -> None:
    processor = PerPersonUpdateProcessor()
    journal = Journal()
    release = asyncio.Event()

    async def first() -> None:
        journal.lines.append(("p", 1, "start"))
        await release.wait()
        journal.lines.append(("p", 1, "end"))

    running = asyncio.create_task(processor.process_update(_update(5), first()))
    await _until(lambda: journal.lines)
    [queued] = _dispatch(processor, journal, "p", 5, range(2, 3))
    await asyncio.sleep(0.01)
    queued.cancel()
    [third] = _dispatch(processor, journal, "p", 5, range(3, 4))
    await asyncio.sleep(0.01)
    assert journal.of("p") == [(1, "start")]  # the third waits for the first
    release.set()
    await asyncio.gather(running, third)
    assert journal.of("p") == [(1, "start"), (1, "end"), (3, "start"), (3, "end")]
