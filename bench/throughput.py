"""Update throughput and latency of the real bot doing real work, against the local sandbox.

Each simulated staff member files a repair report through the form (/report → category →
building → floor → room, or a typed place → what is wrong → skip photos → urgency → submit)
and then a work log (/log → items → save). Every update they send is counted, and each one's
latency is measured from injecting it to the bot's answer the person waits for (the next
prompt; after submit, the confirmation with the ticket number, which comes through the outbox).

The bot runs in a process of its own (`bench.serve`), as it does in production; the sandbox
standing in for Telegram and the simulated people stay in this process, so each side's CPU is
its own (2 cores: one for the bot, one for "Telegram").

Prints, for each bot: updates processed per second (closed loop: everyone at once, each
acting as soon as the bot answered) with the bot process's CPU time per update (all its
threads; the share of the event loop's thread apart) and its ratio to the floor's, p50/p95/p99
latency at a steady 50 and 10 updates/s (open loop: as many people as updates per second,
each acting once a second), and the process's peak memory. The same number of updates runs
through a minimal python-telegram-bot bot that only answers each message and button (the
framework floor), processing updates concurrently as Houqin does, in its own process too.
The machine is shared, so compare ratios measured in one run: `--rounds N` repeats every bot
(alternating the order), `--baseline DIR` measures the bot of another checkout (a worktree of
main) in the same run, and `--profile DIR` saves a pyinstrument session of each Houqin bot
for `python -m bench.where_time_goes`.
Flood limits are off in the sandbox; the bot still paces its outbox at Telegram's 30 messages/s.
No repair group is bound, so new-ticket cards go to the director's private chat (a bound group
is limited by Telegram to 20 messages a minute, which would measure Telegram, not Houqin).

    python -m bench.throughput [--people 2000] [--users 200] [--seconds 10] [--database-url URL]
        [--rounds N] [--baseline DIR]... [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import bench_services, machine_line
from bench.serve import READY
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.models import SentMessage
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from storage.models import Person, Role

ANSWER_TIMEOUT = 120.0
STAFF_POSTS = ["cleaner", "guard", "dorm", "cook", "gardener", "electrician", "repair"]


class Answers:
    """One watcher of the sandbox's event log that wakes only the person answered.

    (`sandbox.wait_for_message` wakes every waiter on every event: with 200 people waiting
    that harness cost would be measured as the bot's.)
    """

    def __init__(self, sandbox: BotApiSandbox) -> None:
        self.sandbox = sandbox
        # chat → (the message id answers come after, or the id of the message to be edited,
        # with edit=True; the future of the answer)
        self.waiting: dict[int, tuple[int, bool, asyncio.Future[SentMessage]]] = {}
        self.task: asyncio.Task[None] | None = None

    def newest(self, chat_id: int) -> int:
        return self.sandbox._counters[chat_id]  # the chat's latest message id

    def expect(
        self, chat_id: int, after: int, *, edit: bool = False
    ) -> asyncio.Future[SentMessage]:
        """The bot's next new message after message `after`, or (`edit`) the next edit of it."""
        future: asyncio.Future[SentMessage] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = (after, edit, future)
        return future

    async def watch(self) -> None:
        position = self.sandbox.mark()
        while True:
            signal = self.sandbox._event_signal
            for event in self.sandbox.events[position:]:
                message = event.message
                if message is None or not message.from_bot:
                    continue
                waiting = self.waiting.get(message.chat_id)
                if waiting is None:
                    continue
                after, edit, future = waiting
                if (event.kind == "edit" and edit and message.message_id == after) or (
                    event.kind == "message" and not edit and message.message_id > after
                ):
                    del self.waiting[message.chat_id]
                    if not future.done():
                        future.set_result(message)
            position = len(self.sandbox.events)
            await signal.wait()

    async def __aenter__(self) -> Answers:
        self.task = asyncio.create_task(self.watch())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


class Person_:
    """A simulated person: sends an update, waits for the bot's next message in their chat."""

    def __init__(self, answers: Answers, user: SandboxUser, index: int) -> None:
        self.answers = answers
        self.user = user
        self.index = index
        self.latencies: list[float] = []
        self.last: SentMessage | None = None

    async def _act(
        self, send: Callable[[], Awaitable[Any]], *, edits: SentMessage | None = None
    ) -> SentMessage:
        # The answer is a new message (the next prompt), or the edit of the form `edits`.
        if edits is not None:
            answer = self.answers.expect(self.user.id, edits.message_id, edit=True)
        else:
            answer = self.answers.expect(self.user.id, self.answers.newest(self.user.id))
        started = time.perf_counter()
        await send()
        self.last = await asyncio.wait_for(answer, ANSWER_TIMEOUT)
        self.latencies.append(time.perf_counter() - started)
        return self.last

    async def say(self, text: str) -> SentMessage:
        return await self._act(lambda: self.user.send(text, settle=False))

    async def add(self, text: str) -> SentMessage:
        """Text that the form shown last takes in by editing itself (the work log's lines)."""
        assert self.last is not None
        return await self._act(lambda: self.user.send(text, settle=False), edits=self.last)

    async def press(self, data_prefix: str, choice: int = 0) -> SentMessage:
        """Press the `choice`-th button (modulo) whose callback data starts with the prefix."""
        message = self.last
        assert message is not None
        found = [b for row in message.inline_keyboard for b in row]
        matching = [b for b in found if str(b.get("callback_data", "")).startswith(data_prefix)]
        if not matching:
            raise LookupError(f"no {data_prefix!r} button in: {message.shown_text[:200]!r}")
        text = str(matching[choice % len(matching)]["text"])
        return await self._act(lambda: self.user.press(message, text, settle=False))

    def has(self, data_prefix: str) -> bool:
        assert self.last is not None
        return any(
            str(b.get("callback_data", "")).startswith(data_prefix)
            for row in self.last.inline_keyboard
            for b in row
        )


async def file_report(person: Person_) -> None:
    """The report form, following whatever the bot asks next."""
    i = person.index
    await person.say("/report")
    await person.press("tkf2:c:", i)
    await person.press("tkf2:b:", i // 3)
    for _ in range(12):
        if person.has("tkf2:fl:"):
            await person.press("tkf2:fl:", i // 7)
        elif person.has("tkf2:rm:"):
            if i % 2:
                await person.press("tkf2:rm:", i // 11)
            else:
                await person.say(f"靠窗第{i % 9 + 1}个位置")
        elif person.has("tkf2:new"):
            await person.press("tkf2:new")  # a different problem than the open one shown
        elif person.has("tkf2:pdone"):
            await person.press("tkf2:pdone")
        elif person.has("tkf2:u:"):
            await person.press("tkf2:u:", 1)
        elif person.has("tkf2:submit"):
            await person.press("tkf2:submit")  # the answer: the confirmation with the number
            return
        else:
            await person.say(f"第{i}号：水龙头一直滴水，关不紧，地面有积水")
    raise RuntimeError(f"the form did not reach its summary: {person.last}")


async def file_log(person: Person_) -> None:
    await person.say("/log")
    await person.add(f"打扫教学楼{person.index % 5 + 1}楼走廊\n检查消防通道")
    await person.press("wlf1:save:")


async def houqin_scenario(person: Person_) -> None:
    """What one staff member does in the product bot."""
    await file_report(person)
    await file_log(person)


def floor_steps(updates: int) -> Callable[[Person_], Awaitable[None]]:
    """The same number of updates to the floor bot: text messages and button presses."""

    async def scenario(person: Person_) -> None:
        await person.say("hello")
        for step in range(updates - 1):
            if step % 2:
                await person.say(f"message {step}")
            else:
                await person.press("floor:")

    return scenario


class BotProcess:
    """The bot under test in its own process (`bench.serve`), polling the sandbox.

    `source`: run the bot of another checkout (its own `bench.serve` and packages), to
    measure two versions in the same run; `profile`: a file for a pyinstrument session.
    """

    def __init__(
        self,
        kind: str,
        sandbox: BotApiSandbox,
        database_url: str | None,
        *,
        source: Path | None = None,
        profile: Path | None = None,
        trips: str | None = None,
    ) -> None:
        self.kind = kind
        self.trips = trips
        self.sandbox = sandbox
        self.database_url = database_url
        self.source = source
        self.profile = profile
        self.process: asyncio.subprocess.Process | None = None
        self.figures: dict[str, float] = {}

    async def __aenter__(self) -> BotProcess:
        args = [
            "--token", self.sandbox.token,
            "--base-url", self.sandbox.base_url,
            "--base-file-url", self.sandbox.base_file_url,
        ]  # fmt: skip
        if self.database_url is not None:
            args += ["--database-url", self.database_url]
        if self.profile is not None:
            args += ["--profile", str(self.profile)]
        if self.trips is not None:
            args += ["--trips", self.trips]
        environment = dict(os.environ)
        if self.source is not None:
            paths = [str(self.source), str(self.source / "devtools")]
            environment["PYTHONPATH"] = os.pathsep.join(paths)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.serve", self.kind, *args,
            stdout=asyncio.subprocess.PIPE, cwd=self.source, env=environment,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        if line.decode().strip() != READY:
            code = self.process.returncode
            raise RuntimeError(f"the {self.kind} bot did not start (exit {code})")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGTERM)
        out, _err = await asyncio.wait_for(self.process.communicate(), 120)
        lines = out.decode().strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise RuntimeError(f"the {self.kind} bot exited with {self.process.returncode}")
        self.figures = json.loads(lines[-1])

    def cpu_seconds(self, task: str = "") -> float:
        """CPU time (user + system) the bot process has used so far (or one of its threads:
        `task/<thread id>`)."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/{task}/stat")
        fields = stat.read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def main_thread_cpu_seconds(self) -> float:
        """CPU time of the thread running the event loop (the rest: the database driver's
        threads: aiosqlite's one per connection with sqlite+aiosqlite:///, worker threads)."""
        assert self.process is not None
        return self.cpu_seconds(f"task/{self.process.pid}")


async def closed_loop(
    people: list[Person_], scenario: Callable[[Person_], Awaitable[None]]
) -> tuple[float, int, list[float]]:
    """Everyone runs the scenario at once; returns (updates per second, updates, latencies)."""
    for person in people:
        person.latencies = []
    started = time.perf_counter()
    await asyncio.gather(*(scenario(person) for person in people))
    elapsed = time.perf_counter() - started
    latencies = [value for person in people for value in person.latencies]
    return len(latencies) / elapsed, len(latencies), latencies


async def open_loop(
    people: list[Person_],
    scenario: Callable[[Person_], Awaitable[None]],
    rate: float,
    seconds: float,
) -> tuple[list[float], float]:
    """People act at a steady pace so that together they send `rate` updates per second.

    Each person acts once every len(people)/rate seconds (starts staggered), repeating the
    scenario until `seconds` have passed. Returns (latencies, achieved updates per second).
    """
    interval = len(people) / rate
    deadline = time.perf_counter() + seconds
    for person in people:
        person.latencies = []

    async def paced(person: Person_, offset: float) -> None:
        original = person._act
        next_at = time.perf_counter() + offset

        async def act(
            send: Callable[[], Awaitable[Any]], *, edits: SentMessage | None = None
        ) -> SentMessage:
            nonlocal next_at
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
            return await original(send, edits=edits)

        person._act = act  # type: ignore[method-assign]
        try:
            while time.perf_counter() < deadline:
                await scenario(person)
        finally:
            person._act = original  # type: ignore[method-assign]

    started = time.perf_counter()
    await asyncio.gather(*(paced(p, i * interval / len(people)) for i, p in enumerate(people)))
    elapsed = time.perf_counter() - started
    latencies = [value for person in people for value in person.latencies]
    return latencies, len(latencies) / elapsed


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def add_people(sandbox: BotApiSandbox, people: int, active: int) -> list[SandboxUser]:
    """The director (who gets the cards) and everyone registered; the first `active` act."""
    director = sandbox.add_user("张主任")
    director.started = True
    return [director] + [sandbox.add_user(f"员工{i:04d}") for i in range(max(people, active))]


async def register_people(services: Services, users: list[SandboxUser], active: int) -> None:
    """The director, `active` staff (who act), the rest teachers."""
    director, *staff_and_teachers = users
    now = services.now()
    async with services.database.transaction() as session:
        session.add(
            Person(telegram_id=director.id, name="张主任", role=Role.DIRECTOR, created_at=now)
        )
        for index, user in enumerate(staff_and_teachers):
            staff = index < active
            session.add(
                Person(
                    telegram_id=user.id,
                    name=user.name,
                    role=Role.STAFF if staff else Role.TEACHER,
                    post_key=STAFF_POSTS[index % len(STAFF_POSTS)] if staff else None,
                    created_at=now,
                )
            )


async def empty_database(url: str) -> None:
    """Drop everything in a PostgreSQL database, so each measured bot starts on an empty one."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


class Figures:
    """What one measured bot did: the closed loop, CPU, the two paced loads, memory."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rate = 0.0
        self.updates = 0
        self.cpu_ms = 0.0
        self.loop_cpu_ms = 0.0  # of which the event loop's thread
        self.closed: list[float] = []
        self.at: dict[int, tuple[list[float], float]] = {}  # rate → (latencies, achieved)
        self.peak_mb = 0.0
        self.calls: Counter[str] = Counter()  # Bot API calls in the closed loop, by method
        self.statements = 0.0  # SQL statements per update (the whole run: all loads)
        self.commits = 0.0

    def line(self, floor: Figures | None) -> str:
        ratio = f" ({self.cpu_ms / floor.cpu_ms:.2f}x the floor)" if floor else ""
        paced = "; ".join(
            f"at {rate}/s (achieved {achieved:.0f}/s): p50 {percentile(values, 0.5):.0f} ms, "
            f"p95 {percentile(values, 0.95):.0f} ms, p99 {percentile(values, 0.99):.0f} ms"
            for rate, (values, achieved) in self.at.items()
        )
        return (
            f"{self.name}: {self.rate:.0f} updates/s closed loop ({self.updates} updates, "
            f"p95 {percentile(self.closed, 0.95):.0f} ms); "
            f"CPU {self.cpu_ms:.2f} ms/update{ratio}, of which "
            f"{(self.cpu_ms - self.loop_cpu_ms) / self.cpu_ms * 100:.0f}% in other threads; "
            f"{paced}; peak {self.peak_mb:.0f} MB; Bot API calls per update "
            f"{sum(self.calls.values()) / max(1, self.updates):.2f} "
            f"({', '.join(f'{name} {count}' for name, count in self.calls.most_common())}); "
            f"SQL per update: {self.statements:.1f} statements, {self.commits:.2f} commits"
        )


RATES = (50, 10)


async def measure(
    name: str,
    bot: BotProcess,
    actors: list[Person_],
    scenario: Callable[[Person_], Awaitable[None]],
    seconds: float,
) -> Figures:
    figures = Figures(name)
    updates_before = len(bot.sandbox.emitted_updates)
    async with bot:
        await closed_loop(actors[:10], scenario)  # warm-up
        cpu_before, loop_before = bot.cpu_seconds(), bot.main_thread_cpu_seconds()
        calls_before = len(bot.sandbox.requests)
        figures.rate, figures.updates, figures.closed = await closed_loop(actors, scenario)
        figures.calls = Counter(
            name for name, _params, _status in bot.sandbox.requests[calls_before:]
            if name.lower() != "getupdates"
        )  # fmt: skip
        figures.cpu_ms = (bot.cpu_seconds() - cpu_before) / figures.updates * 1000
        loop_cpu = bot.main_thread_cpu_seconds() - loop_before
        figures.loop_cpu_ms = loop_cpu / figures.updates * 1000
        for rate in RATES:
            # As many people as updates per second, each acting once a second.
            paced = actors[: max(1, min(len(actors), rate))]
            figures.at[rate] = await open_loop(paced, scenario, rate, seconds)
    figures.peak_mb = bot.figures["peak_rss_mb"]
    updates = max(1, len(bot.sandbox.emitted_updates) - updates_before)
    figures.statements = bot.figures.get("sql_statements", 0) / updates
    figures.commits = bot.figures.get("sql_commits", 0) / updates
    return figures


async def main(
    people: int,
    users_count: int,
    seconds: float,
    database_url: str | None,
    *,
    rounds: int = 1,
    baselines: Sequence[Path] = (),
    profile: Path | None = None,
    trips: Sequence[str] = (),
) -> int:
    logging.basicConfig(level=logging.ERROR)
    results: dict[str, list[Figures]] = {}
    async with BotApiSandbox() as sandbox, Answers(sandbox) as answers:
        users = add_people(sandbox, people, users_count)
        actors = [
            Person_(answers, user, index) for index, user in enumerate(users[1 : users_count + 1])
        ]
        variants: list[tuple[str, Path | None]] = [("houqin", None)]
        variants += [(f"baseline {source.name}", source) for source in baselines]
        per_person = 1
        database = "sqlite"
        for round_ in range(rounds):
            # Alternate the order, so neither version always runs first on a warming machine.
            order = variants if round_ % 2 == 0 else variants[::-1]
            for name, source in order:
                if database_url is not None and database_url.startswith("postgresql"):
                    await empty_database(database_url)
                async with bench_services(database_url) as services:
                    database = services.database.dialect
                    await register_people(services, users, users_count)
                    stats = None
                    if profile is not None and source is None:
                        stats = profile / f"houqin-{database}-{round_}.pyisession"
                    bot = BotProcess(
                        "houqin", sandbox, services.settings.database_url,
                        source=source, profile=stats,
                    )  # fmt: skip
                    figures = await measure(name, bot, actors, houqin_scenario, seconds)
                results.setdefault(name, []).append(figures)
                per_person = max(1, round(figures.updates / len(actors)))
                print(f"round {round_ + 1}: {figures.line(None)}", flush=True)
            stats = profile / f"floor-{round_}.pyisession" if profile is not None else None
            floor_bot = BotProcess("floor", sandbox, None, profile=stats)
            figures = await measure("floor", floor_bot, actors, floor_steps(per_person), seconds)
            results.setdefault("floor", []).append(figures)
            print(f"round {round_ + 1}: {figures.line(None)}", flush=True)
            for kind in trips if database == "sqlite" else trips[:1]:
                # The floor with the two trips Houqin makes per update, on its database.
                name = f"floor + Houqin's 2 trips ({kind})"
                if database_url is not None and database_url.startswith("postgresql"):
                    await empty_database(database_url)
                async with bench_services(database_url) as services:
                    await register_people(services, users, users_count)
                    floor_bot = BotProcess(
                        "floor", sandbox, services.settings.database_url, trips=kind
                    )
                    figures = await measure(
                        name, floor_bot, actors, floor_steps(per_person), seconds
                    )
                results.setdefault(name, []).append(figures)
                print(f"round {round_ + 1}: {figures.line(None)}", flush=True)
    print(machine_line())
    print(
        f"registered people: {people}; simultaneous users: {users_count} "
        f"(each: a repair report through the form + a work log, {per_person} updates; "
        f"the floor bot: as many messages and presses); database: {database}; "
        f"{rounds} round(s), each bot on an empty database"
    )
    for index in range(rounds):
        floor = results["floor"][index]
        for name, runs in results.items():
            print(f"round {index + 1}: {runs[index].line(None if name == 'floor' else floor)}")
    if rounds > 1 or baselines:
        for name, runs in results.items():
            if name == "floor":
                continue
            ratios = sorted(run.cpu_ms / results["floor"][i].cpu_ms for i, run in enumerate(runs))
            print(
                f"{name}: CPU per update / floor's, by round: "
                + ", ".join(f"{r:.2f}x" for r in ratios)
            )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every bot this often")
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[],
        help="another checkout (e.g. a worktree of main) whose bot is measured in the same run",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None, help="a folder for pyinstrument sessions of the bots"
    )
    parser.add_argument(
        "--trips", action="store_true",
        help="also measure the floor making Houqin's two database trips per update (who is "
        "behind it, the form state it leaves), through Houqin's storage and, on SQLite, "
        "through plain sqlite3",
    )  # fmt: skip
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    raise SystemExit(
        asyncio.run(
            main(
                args.people,
                args.users,
                args.seconds,
                args.database_url,
                rounds=args.rounds,
                baselines=args.baseline,
                profile=args.profile,
                trips=["product", "sqlite3"] if args.trips else [],
            )
        )
    )
