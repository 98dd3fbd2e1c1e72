"""More than one worker on PostgreSQL: updates per second and latency with 1, 2 and 4 workers.

The shipped command (`python -m bot.cli run`) runs as N processes in webhook mode with
HOUQIN_SCALE_OUT on one PostgreSQL database; the sandbox stands in for Telegram and for the
reverse proxy, spreading webhook deliveries over the workers in turn. The simulated staff do
what `bench.throughput` has them do (a repair report through the form, then a work log), all
at once (closed loop: updates/s, p95) and then at a steady 10 updates/s (p95).

Checked for every run (printed, and the run fails if they do not hold): no update lost (every
person's scenario finished: a lost update leaves them waiting), none handled twice (one ticket
per submit, each inbox row handled once), none reordered (a form step handled out of order
answers with a stale prompt and the scenario fails).

    python -m bench.scaleout [--workers 1,2,4] [--users 200] [--seconds 10]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/houqin_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

from bench.common import bench_services, machine_line
from bench.throughput import (
    Answers,
    Person_,
    add_people,
    closed_loop,
    empty_database,
    houqin_scenario,
    open_loop,
    percentile,
    register_people,
)
from devtools.harness import Workers, profile_with_reminder_at, until
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from storage.database import Database
from storage.models import Person, Role, ScheduledRun, Ticket
from storage.update_inbox import InboxUpdate

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/houqin_bench"
PACED_RATE = 10


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_cpu(workers: Workers) -> float:
    return sum(
        cpu_seconds(process.process.pid)
        for process in workers.processes
        if process.process is not None
    )


async def create_database(url: str) -> None:
    """Create the benchmark's database on the server if it is not there."""
    import asyncpg

    server, name = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


class Run:
    """One worker count's figures and checks."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.rate = 0.0
        self.updates = 0
        self.closed: list[float] = []
        self.paced: list[float] = []
        self.achieved = 0.0
        self.cpu_ms = 0.0
        self.problems: list[str] = []

    def line(self) -> str:
        checks = "; ".join(self.problems) if self.problems else "none lost, twice or reordered"
        return (
            f"{self.count} worker(s): {self.rate:.0f} updates/s closed loop "
            f"({self.updates} updates, p50 {percentile(self.closed, 0.5):.0f} ms, "
            f"p95 {percentile(self.closed, 0.95):.0f} ms); at {PACED_RATE}/s (achieved "
            f"{self.achieved:.0f}/s) p95 {percentile(self.paced, 0.95):.0f} ms; "
            f"workers' CPU {self.cpu_ms:.1f} ms/update; {checks}"
        )


def counting(
    scenario: Callable[[Person_], Awaitable[None]], done: list[int]
) -> Callable[[Person_], Awaitable[None]]:
    """The scenario, counting the runs that finished (each files one ticket)."""

    async def run(person: Person_) -> None:
        await scenario(person)
        done[0] += 1

    return run


async def check(
    database: Database, sandbox: BotApiSandbox, submits: int, *, lenient: bool = False
) -> list[str]:
    """What went wrong: updates lost, handled twice, tickets filed twice. `lenient`: a worker
    was killed, so a submit it took may have been filed and not answered (the person's
    scenario then failed): one more ticket than finished submits per killed update."""
    problems = []
    async with database.reading() as session:
        tickets = (await session.exec(select(func.count()).select_from(Ticket))).one()
        rows = (await session.exec(select(func.count()).select_from(InboxUpdate))).one()
        waiting = (
            await session.exec(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.handled_at == None)  # noqa: E711
            )
        ).one()
    if tickets != submits and not (lenient and submits <= tickets <= submits + 1):
        problems.append(f"{tickets} tickets for {submits} submits")
    if rows != sandbox.stats["webhook_delivered"]:
        problems.append(f"{rows} updates taken of {sandbox.stats['webhook_delivered']} delivered")
    if waiting:
        problems.append(f"{waiting} updates never handled")
    return problems


async def measure(
    count: int,
    sandbox: BotApiSandbox,
    users: list[SandboxUser],
    actors: list[Person_],
    url: str,
    seconds: float,
) -> Run:
    run = Run(count)
    await empty_database(url)
    async with bench_services(url) as services:
        await register_people(services, users, len(actors))
        sandbox.stats["webhook_delivered"] = 0
        with tempfile.TemporaryDirectory(prefix="houqin-scaleout-") as temporary:
            folder = os.environ.get("BENCH_LOGS") or temporary  # the workers' logs
            # Within PostgreSQL's 100 connections: 20 (+20 at a peak) each for 1–2 workers.
            pool = {"HOUQIN_DATABASE_POOL_SIZE": str(min(20, 40 // count))}
            Path(folder, str(count)).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
            workers = Workers(sandbox, Path(folder, str(count)), url, count, env=pool)
            await workers.start()
            try:
                done = [0]
                scenario = counting(houqin_scenario, done)
                await closed_loop(actors[:10], scenario)  # warm-up
                before = workers_cpu(workers)
                run.rate, run.updates, run.closed = await closed_loop(actors, scenario)
                run.cpu_ms = (workers_cpu(workers) - before) / run.updates * 1000
                paced = actors[:PACED_RATE]
                run.paced, run.achieved = await open_loop(paced, scenario, PACED_RATE, seconds)
                await sandbox.settle(timeout=60)
                run.problems = await check(services.database, sandbox, done[0])
            finally:
                await workers.stop()
    return run


TOOK_OVER = "this worker is now the leader"
REMINDER_JOB = "worklogs.reminder"
IDLE_STAFF = 10


async def failover(
    sandbox: BotApiSandbox, users: list[SandboxUser], actors: list[Person_], url: str
) -> str:
    """Two workers under load; the leader is killed (SIGKILL) a few seconds before the
    work-log reminder is due: the other worker takes over and runs the reminder once."""
    await empty_database(url)
    idle = [sandbox.add_user(f"夜班{i:02d}") for i in range(IDLE_STAFF)]
    for user in idle:
        user.started = True  # they have the bot open: it may write to them
    async with bench_services(url) as services:
        await register_people(services, users, len(actors))
        async with services.database.transaction() as session:
            for user in idle:  # staff who file no log: the reminder is for them
                session.add(
                    Person(
                        telegram_id=user.id,
                        name=user.name,
                        role=Role.STAFF,
                        post_key="guard",
                        created_at=services.now(),
                    )
                )
        sandbox.stats["webhook_delivered"] = 0
        with tempfile.TemporaryDirectory(prefix="houqin-failover-") as folder:
            moment = SystemClock().now().astimezone(services.profile.tz) + timedelta(seconds=30)
            moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
            school = profile_with_reminder_at(Path(folder) / "school.toml", moment)
            env = {"HOUQIN_SCHOOL_PROFILE": str(school), "HOUQIN_LOG_LEVEL": "INFO"}
            workers = Workers(sandbox, Path(folder), url, 2, env=env)
            await workers.start()
            try:
                await until(
                    lambda: any(TOOK_OVER in w.last_log() for w in workers.processes),
                    "a worker to lead",
                )
                [leader] = [w for w in workers.processes if TOOK_OVER in w.last_log()]
                [survivor] = [w for w in workers.processes if w is not leader]
                done = [0]
                scenario = counting(houqin_scenario, done)
                until_moment = (moment - SystemClock().now()).total_seconds()

                in_flight = [0]

                async def kill_before_the_moment() -> float:
                    await asyncio.sleep(max(0.0, until_moment - 3))
                    await leader.kill()
                    killed = time.monotonic()
                    in_flight[0] = await waiting_updates(services.database)
                    await until(lambda: TOOK_OVER in survivor.last_log(), "the takeover", 30)
                    return time.monotonic() - killed

                load = asyncio.gather(
                    *(repeat(scenario, actor, moment) for actor in actors), return_exceptions=True
                )
                takeover, outcomes = await asyncio.gather(kill_before_the_moment(), load)
                await asyncio.sleep(5)
                await sandbox.settle(timeout=60)
                problems = await check(services.database, sandbox, done[0], lenient=True)
                failed = [o for o in outcomes if isinstance(o, BaseException)]
                # An update the killed worker had answered but not yet recorded as handled is
                # handled again by the other (at least once): its person sees that answer
                # twice (a prompt repeated), which the simulated person does not expect.
                stuck = [o for o in failed if not isinstance(o, LookupError)]
                if stuck or len(failed) > in_flight[0]:
                    problems.append(f"{len(failed)} people stuck: {failed[0]!r}")
                async with services.database.reading() as session:
                    runs = (
                        await session.exec(
                            select(ScheduledRun).where(ScheduledRun.job == REMINDER_JOB)
                        )
                    ).all()
                reminded = Counter(
                    m.chat_id
                    for m in sandbox.messages(from_bot=True)
                    if "not filed your work log" in m.shown_text
                )
            finally:
                await workers.stop()
    repeated = len(failed)
    in_flight_at_kill = in_flight[0]
    twice = sum(1 for count in reminded.values() if count > 1)
    missed = [user.name for user in idle if user.id not in reminded]
    if missed:
        problems.append(f"{len(missed)} idle staff not reminded")
    if len(runs) != 1 or runs[0].finished_at is None:
        problems.append(f"the reminder ran {len(runs)} time(s)")
    if twice:
        problems.append(f"{twice} people reminded twice")
    checks = "; ".join(problems) if problems else "none lost, twice or reordered"
    return (
        f"failover: the leader killed (SIGKILL) 3 s before the reminder, under load; the other "
        f"worker led {takeover:.2f} s later and ran the reminder once "
        f"({len(reminded)} people reminded, {twice} twice); {done[0]} scenarios finished; "
        f"{repeated} people saw an answer repeated (of {in_flight_at_kill} updates waiting at the "
        f"kill); {checks}"
    )


async def waiting_updates(database: Database) -> int:
    """Updates taken and not handled yet."""
    async with database.reading() as session:
        query = select(func.count()).select_from(InboxUpdate)
        return (await session.exec(query.where(InboxUpdate.handled_at == None))).one()  # noqa: E711


async def repeat(
    scenario: Callable[[Person_], Awaitable[None]], person: Person_, moment: datetime
) -> None:
    """The scenario again and again until a few seconds after `moment`."""
    while SystemClock().now() < moment + timedelta(seconds=5):
        await scenario(person)


async def main(counts: list[int], users_count: int, seconds: float, url: str) -> int:
    logging.basicConfig(level=logging.ERROR)
    await create_database(url)
    runs = []
    async with BotApiSandbox() as sandbox, Answers(sandbox) as answers:
        users = add_people(sandbox, users_count, users_count)
        actors = [Person_(answers, user, i) for i, user in enumerate(users[1 : users_count + 1])]
        for count in counts:
            started = time.perf_counter()
            run = await measure(count, sandbox, users, actors, url, seconds)
            runs.append(run)
            print(f"{run.line()} ({time.perf_counter() - started:.0f} s)", flush=True)
        taken_over = await failover(sandbox, users, actors[: min(len(actors), 50)], url)
        print(taken_over, flush=True)
    print(machine_line())
    print(
        f"simultaneous users: {users_count} (each: a repair report through the form + a work "
        f"log); PostgreSQL; the sandbox delivers the webhook one update at a time, as a "
        f"reverse proxy in turn to each worker"
    )
    for run in runs:
        print(run.line())
    print(taken_over)
    return 1 if any(run.problems for run in runs) or "none lost" not in taken_over else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL))
    args = parser.parse_args()
    counts = [int(part) for part in args.workers.split(",")]
    raise SystemExit(asyncio.run(main(counts, args.users, args.seconds, args.database_url)))
