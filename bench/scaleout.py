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
from collections.abc import Awaitable, Callable
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
from devtools.harness import Workers
from devtools.sandbox.actors import SandboxUser
from devtools.sandbox.server import BotApiSandbox
from storage.database import Database
from storage.models import Ticket
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


async def check(database: Database, sandbox: BotApiSandbox, submits: int) -> list[str]:
    """What went wrong: updates lost, handled twice, tickets filed twice."""
    problems = []
    async with database.reading() as session:
        tickets = (await session.exec(select(func.count()).select_from(Ticket))).one()
        rows = (await session.exec(select(func.count()).select_from(InboxUpdate))).one()
        waiting = (
            await session.exec(
                select(func.count()).select_from(InboxUpdate).where(InboxUpdate.handled_at == None)  # noqa: E711
            )
        ).one()
    if tickets != submits:
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
        with tempfile.TemporaryDirectory(prefix="houqin-scaleout-") as folder:
            workers = Workers(sandbox, Path(folder), url, count)
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
    print(machine_line())
    print(
        f"simultaneous users: {users_count} (each: a repair report through the form + a work "
        f"log); PostgreSQL; the sandbox delivers the webhook one update at a time, as a "
        f"reverse proxy in turn to each worker"
    )
    for run in runs:
        print(run.line())
    return 1 if any(run.problems for run in runs) else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL))
    args = parser.parse_args()
    counts = [int(part) for part in args.workers.split(",")]
    raise SystemExit(asyncio.run(main(counts, args.users, args.seconds, args.database_url)))
