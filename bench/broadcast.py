"""Broadcast at Telegram's limit: notifications to 500 private chats and 10 groups.

The sandbox enforces Telegram's flood limits (30 messages/s overall, 20/min per group,
about 1/s per private chat) and answers 429 past them. The real bot delivers the outbox,
paced per chat (notices.pacing, bot.rate_limit). Prints the total time against the theoretical
minimum at 30 messages/s, the 429s received and the messages lost (must be 0).

Meanwhile `--acting` other staff use the bot (open the work-log form, add a line, save), together
`--rate` updates a second: their answers must not wait behind the broadcast (answers to the
person acting are sent at once, not queued). Prints their latency p50/p95.

    python -m bench.broadcast [--people 500] [--groups 10] [--acting 20] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta

from bench.common import bench_services, machine_line, peak_rss_mb
from bench.throughput import (
    Answers,
    Person_,
    add_people,
    file_log,
    open_loop,
    percentile,
    register_people,
)
from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices import outbox


async def main(people: int, groups: int, acting: int, rate: float) -> int:
    logging.basicConfig(level=logging.ERROR)
    async with (
        bench_services() as services,
        BotApiSandbox(enforce_limits=True) as sandbox,
        Answers(sandbox) as answers,
    ):
        users = [sandbox.add_user(f"员工{i:03d}") for i in range(people)]
        for user in users:
            user.started = True  # each has /start-ed the bot before
        director, *staff = add_people(sandbox, acting, acting)
        await register_people(services, [director, *staff], acting)
        actors = [Person_(answers, user, index) for index, user in enumerate(staff)]
        async with running_bot(services, sandbox) as application:
            chats = []
            for g in range(groups):
                group = sandbox.add_group(f"年级组{g + 1}")
                await sandbox.add_bot_to_group(group, by=users[g])
                chats.append(group.id)
            async with services.database.transaction() as session:
                for chat_id in chats:
                    await outbox.notify(
                        session,
                        services,
                        key=f"bench:rank:{chat_id}",
                        chat_id=chat_id,
                        text="<b>2026年11月考评</b>\n1. 李师傅 96.5 优秀 ⭐服务标兵",
                    )
                for user in users:
                    await outbox.notify(
                        session,
                        services,
                        key=f"bench:remind:{user.id}",
                        chat_id=user.id,
                        text="今天的工作日志还没有填写，请点下面的按钮填写。",
                    )
            total = people + groups
            before_429 = sandbox.stats["429"]
            mark = sandbox.mark()
            started = time.perf_counter()

            ended: list[int] = []

            async def broadcast() -> float:
                report = await outbox.deliver(application.bot, services)
                while report.retrying:  # anything refused beyond the rate limiter's retries
                    services.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
                    report = await outbox.deliver(application.bot, services)
                ended.append(sandbox.mark())
                return time.perf_counter() - started

            # The people acting keep on for the broadcast's expected length.
            using = open_loop(actors, file_log, rate, total / 30) if actors else None
            if using is not None:
                elapsed, (latencies, achieved) = await asyncio.gather(broadcast(), using)
            else:
                elapsed, latencies, achieved = await broadcast(), [], 0.0
            sent = sandbox.bot_messages_since(mark)
            targets = {*chats, *(user.id for user in users)}
            per_chat = Counter(m.chat_id for m in sent if m.chat_id in targets)
            # Answers to the people acting share Telegram's 30 messages/s with the broadcast.
            answered = sum(
                1
                for event in sandbox.events[mark : ended[0]]
                if event.kind == "message"
                and event.message
                and event.message.from_bot
                and event.message.chat_id not in targets
            )
            lost = len(targets - per_chat.keys())
            duplicates = sum(count - 1 for count in per_chat.values() if count > 1)
    minimum = (total + answered) / 30
    print(machine_line())
    print(f"messages: {total} ({people} private chats, {groups} groups)")
    print(
        f"total time: {elapsed:.2f} s; theoretical minimum at 30 msg/s for these and the "
        f"{answered} answers sent meanwhile: {minimum:.2f} s; "
        f"ratio {elapsed / minimum:.3f}"
    )
    print(f"429 received: {sandbox.stats['429'] - before_429}")
    print(f"messages lost: {lost}; duplicates: {duplicates}")
    if latencies:
        print(
            f"meanwhile {acting} people acting at {rate:.0f} updates/s (achieved {achieved:.1f}/s, "
            f"{len(latencies)} updates): answered in p50 {percentile(latencies, 0.5):.0f} ms, "
            f"p95 {percentile(latencies, 0.95):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
        )
    print(f"peak memory: {peak_rss_mb():.0f} MB")
    return 0 if lost == 0 and duplicates == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--acting", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.people, args.groups, args.acting, args.rate)))
