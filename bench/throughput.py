"""Update throughput and latency of the real bot against the local Bot API sandbox.

Simulated users act at once (flood limits off in the sandbox). Prints updates processed per
second (closed loop, as fast as the bot answers), p50/p95/p99 latency from injecting an update
to the bot's answer at a fixed 50 updates/s (open loop), and peak memory with the registered
people loaded. The same loads run through a minimal python-telegram-bot bot that only answers
each message (the framework floor), and the ratio is printed.

    python -m bench.throughput [--people 2000] [--users 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bench.common import bench_services, machine_line, peak_rss_mb
from bot.harness import running_bot
from bot.sandbox.actors import SandboxUser
from bot.sandbox.server import BotApiSandbox
from storage.models import Person, Role

Scenario = Callable[[BotApiSandbox, SandboxUser], Awaitable[int]]


async def ask(sandbox: BotApiSandbox, user: SandboxUser, text: str) -> float:
    """Send one message and wait for the bot's answer; returns the latency in seconds."""
    mark = sandbox.mark()
    started = time.perf_counter()
    await user.send(text, settle=False)
    await sandbox.wait_for_message(user.id, since=mark, timeout=60)
    return time.perf_counter() - started


async def houqin_scenario(sandbox: BotApiSandbox, user: SandboxUser) -> list[float]:
    """What one person does in the product bot: the steps they would take."""
    return [await ask(sandbox, user, "/whoami"), await ask(sandbox, user, "/help")]


async def floor_scenario(sandbox: BotApiSandbox, user: SandboxUser) -> list[float]:
    """The same number of updates to the framework floor bot."""
    return [await ask(sandbox, user, "hello"), await ask(sandbox, user, "again")]


@asynccontextmanager
async def floor_bot(sandbox: BotApiSandbox) -> AsyncIterator[Application]:
    """A minimal python-telegram-bot bot that answers each message, polling the sandbox."""

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("ok")

    application = (
        ApplicationBuilder()
        .token(sandbox.token)
        .base_url(sandbox.base_url)
        .base_file_url(sandbox.base_file_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, answer))
    sandbox.watch_application(application)
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        sandbox.extra_idle_checks.clear()


async def closed_loop(
    sandbox: BotApiSandbox,
    users: list[SandboxUser],
    scenario: Callable[..., Awaitable[list[float]]],
) -> tuple[float, int]:
    """Every user runs the scenario at once; returns (updates per second, updates)."""
    started = time.perf_counter()
    results = await asyncio.gather(*(scenario(sandbox, user) for user in users))
    elapsed = time.perf_counter() - started
    updates = sum(len(r) for r in results)
    return updates / elapsed, updates


async def open_loop(
    sandbox: BotApiSandbox, users: list[SandboxUser], rate: float, seconds: float, text: str
) -> list[float]:
    """Inject `rate` updates per second for `seconds`, round-robin over users."""
    latencies: list[float] = []
    tasks = []
    interval = 1 / rate
    start = time.perf_counter()
    for index in range(int(rate * seconds)):
        delay = start + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user = users[index % len(users)]

        async def one(user: SandboxUser = user) -> None:
            latencies.append(await ask(sandbox, user, text))

        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def main(people: int, users_count: int, seconds: float) -> int:
    logging.basicConfig(level=logging.ERROR)
    async with bench_services() as services, BotApiSandbox() as sandbox:
        users = [sandbox.add_user(f"教师{i:04d}") for i in range(max(people, users_count))]
        async with services.database.transaction() as session:
            for user in users:
                session.add(
                    Person(
                        telegram_id=user.id,
                        name=user.name,
                        role=Role.TEACHER,
                        created_at=services.now(),
                    )
                )
        active = users[:users_count]
        async with running_bot(services, sandbox):
            await closed_loop(sandbox, active[:20], houqin_scenario)  # warm-up
            product_rate, product_updates = await closed_loop(sandbox, active, houqin_scenario)
            product_latency = open_loop(sandbox, active, 50, seconds, "/whoami")
            latencies = await product_latency
        product_memory = peak_rss_mb()
        async with floor_bot(sandbox):
            await closed_loop(sandbox, active[:20], floor_scenario)
            floor_rate, _ = await closed_loop(sandbox, active, floor_scenario)
            floor_latencies = await open_loop(sandbox, active, 50, seconds, "hello")
    print(machine_line())
    print(f"registered people: {people}; simultaneous users: {users_count}")
    print(
        f"throughput: {product_rate:.0f} updates/s ({product_updates} updates); "
        f"framework floor {floor_rate:.0f} updates/s; floor/houqin {floor_rate / product_rate:.2f}x"
    )
    print(
        f"latency at 50 updates/s: p50 {percentile(latencies, 0.5):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms "
        f"(floor p95 {percentile(floor_latencies, 0.95):.1f} ms)"
    )
    print(f"peak memory: {product_memory:.0f} MB (whole process: sandbox and bot)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.people, args.users, args.seconds)))
