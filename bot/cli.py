"""The `houqin` command: run the bot, migrate, invite, check a profile, play the demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.cli_errors import CliError, explain, load_profile_or_fail
from bot.cli_stickers import add_parser as add_stickers_parser
from school.clock import SystemClock
from school.settings import Mode, Settings, SettingsError, load_settings, require_token

if TYPE_CHECKING:
    pass

EXIT_USAGE = 2
DURATION = re.compile(r"^(\d+)\s*([dhm])$")


def parse_lifetime(text: str) -> timedelta:
    """'7d', '12h' or '30m' as a timedelta."""
    match = DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise CliError(f"--expires: {text!r} is not a duration like 7d, 12h or 30m")
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "d": timedelta(days=amount),
        "h": timedelta(hours=amount),
        "m": timedelta(minutes=amount),
    }[unit]


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Libraries log every request (httpx) and every run of the 5-second outbox job
    # (apscheduler, two INFO lines each time); an operator needs their warnings only.
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_run(_args: argparse.Namespace) -> int:
    """Run the bot until SIGINT/SIGTERM (see bot.lifecycle for start-up and shutdown)."""
    from bot.app import build_application
    from bot.lifecycle import Receive, polling, serve, webhook
    from notices.services import Services
    from storage.database import Database, migrate_sync

    settings = load_settings()
    require_token(settings)
    _setup_logging(settings)
    profile = load_profile_or_fail(settings)
    receive: Receive
    if settings.mode == Mode.WEBHOOK:
        if not settings.webhook_url or not settings.webhook_secret:
            raise SettingsError("WEBHOOK_URL and WEBHOOK_SECRET must be set when MODE=webhook")
        receive = webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url=settings.webhook_url,
            secret=settings.webhook_secret,
        )
    else:
        receive = polling()
    migrate_sync(settings.database_url)
    services = Services(
        settings=settings,
        profile=profile,
        database=Database(settings.database_url, pool_size=settings.database_pool_size),
        clock=SystemClock(),
    )
    asyncio.run(serve(build_application(services), receive))
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    """Apply the database migrations."""
    from storage.database import migrate_sync

    settings = load_settings()
    migrate_sync(settings.database_url)
    print(f"database is up to date: {settings.database_url}")
    return 0


def cmd_profile_check(args: argparse.Namespace) -> int:
    """Validate a school profile file: every mistake with its line, in the operator's language."""
    from school.profile import check_profile, operator_language

    errors = check_profile(args.file, language=operator_language())
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.file}: OK")
    return 0


async def _bot_username(settings: Settings) -> str | None:
    from telegram import Bot

    from storage import bot_facts
    from storage.database import Database

    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            known = await bot_facts.recall(session, bot_facts.BOT_USERNAME)
    finally:
        await database.dispose()
    if known:
        return known
    if settings.telegram_bot_token:
        bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_base_url)
        async with bot:
            return bot.username
    return None


def cmd_invite(args: argparse.Namespace) -> int:
    """Make an invite and print its link and bare code."""
    from notices.render import deep_link
    from storage import people
    from storage.database import Database, migrate_sync
    from storage.models import Role

    settings = load_settings()
    profile = load_profile_or_fail(settings)
    role = Role(args.role)
    post_key = None
    if role == Role.STAFF:
        if not args.post:
            names = ", ".join(f"{p.key} ({p.name})" for p in profile.posts)
            raise CliError(f"--post is required for staff; one of: {names}")
        post = next((p for p in profile.posts if args.post in (p.key, p.name)), None)
        if post is None:
            names = ", ".join(f"{p.key} ({p.name})" for p in profile.posts)
            raise CliError(f"--post: no post {args.post!r} in the profile; one of: {names}")
        post_key = post.key
    if args.uses < 1:
        raise CliError("--uses must be at least 1")
    if args.name is not None and not (0 < len(args.name) <= 64):
        raise CliError("--name must be 1 to 64 characters")
    lifetime = parse_lifetime(args.expires)
    migrate_sync(settings.database_url)

    async def _create() -> tuple[str, str | None]:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                invite = await people.create_invite(
                    session,
                    role=role,
                    post_key=post_key,
                    name=args.name,
                    max_uses=args.uses,
                    lifetime=lifetime,
                    now=SystemClock().now(),
                )
        finally:
            await database.dispose()
        return invite.code, await _bot_username(settings)

    code, username = asyncio.run(_create())
    if username:
        print(deep_link(username, code))
    else:
        print(
            deep_link("<bot username>", code)
            + "   (start the bot once, or set HOUQIN_TELEGRAM_BOT_TOKEN, to fill in its username)"
        )
    print(code)
    return 0


def cmd_jobs_list(_args: argparse.Namespace) -> int:
    """Print every scheduled job with its next run time."""
    from notices.services import Services
    from scheduler.jobs import all_jobs, next_run
    from storage.database import Database

    settings = load_settings()
    services = Services(
        settings=settings,
        profile=load_profile_or_fail(settings),
        database=Database(settings.database_url, pool_size=settings.database_pool_size),
        clock=SystemClock(),
    )
    now = services.now()
    for job in all_jobs(services):
        upcoming = next_run(job, now)
        when = upcoming.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z") if upcoming else "-"
        print(f"{job.name:<28} {when:<24} {job.description}")
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    """Run one scheduled job now, with the real bot (needs the token)."""
    from bot.app import build_application
    from notices.services import Services
    from scheduler.jobs import run_now
    from storage.database import Database, migrate_sync

    settings = load_settings()
    require_token(settings)
    _setup_logging(settings)
    migrate_sync(settings.database_url)
    services = Services(
        settings=settings,
        profile=load_profile_or_fail(settings),
        database=Database(settings.database_url, pool_size=settings.database_pool_size),
        clock=SystemClock(),
    )
    application = build_application(services)

    async def _run() -> None:
        async with application:
            await run_now(application, args.name)

    try:
        asyncio.run(_run())
    except LookupError as exc:
        raise CliError(str(exc).strip("'\"")) from None
    print(f"ran {args.name}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Write a consistent copy of the SQLite database, safe while the bot runs."""
    import sqlite3
    from pathlib import Path

    from sqlalchemy.engine import make_url

    settings = load_settings()
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite"):
        raise CliError(
            "houqin backup copies SQLite databases; for PostgreSQL use "
            "pg_dump --format=custom (see the README)"
        )
    source = Path(url.database or "")
    if not source.is_file():
        raise CliError(f"DATABASE_URL: no database file at {source}")
    target = Path(args.out)
    if target.exists():
        raise CliError(f"{target} exists; choose a new file name")
    if not target.parent.is_dir():
        raise CliError(f"folder {str(target.parent)!r} does not exist; create it first")
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.execute("PRAGMA busy_timeout = 5000")
        live.backup(copy)  # SQLite's online backup: a consistent snapshot, WAL included
    print(f"backed up {source} to {target}")
    return 0


def cmd_export_logs(args: argparse.Namespace) -> int:
    """Write the work-log ledger of a date range as an Excel workbook."""
    from bot.cli_export import cmd_export_logs as export_logs

    return export_logs(args)


def cmd_export_appraisal(args: argparse.Namespace) -> int:
    """Write a month's appraisal (with quarter and year to date) as an Excel workbook."""
    from bot.cli_export import cmd_export_appraisal as export_appraisal

    return export_appraisal(args)


def cmd_export_tickets(args: argparse.Namespace) -> int:
    """Write the repair ticket ledger of a date range as an Excel workbook."""
    from bot.cli_export import cmd_export_tickets as export_tickets

    return export_tickets(args)


def cmd_export_services(args: argparse.Namespace) -> int:
    """Write a month's meeting and reception services as an Excel workbook."""
    from bot.cli_export import cmd_export_services as export_services

    return export_services(args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Play a scripted school through the sandbox and print the transcript."""
    from devtools.demo import run_demo

    return asyncio.run(run_demo(verbose=args.verbose, cockpit_port=args.cockpit))


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve the local Bot API sandbox for manual use."""
    from devtools.sandbox.server import parse_latency, serve_forever

    try:
        latency = parse_latency(args.latency)
    except ValueError as exc:
        raise CliError(f"--latency: {exc}") from None
    asyncio.run(serve_forever(args.host, args.port, args.token, latency))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `houqin`."""
    parser = argparse.ArgumentParser(
        prog="houqin", description="后勤通 Houqin school logistics bot"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot").set_defaults(func=cmd_run)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    invite = sub.add_parser("invite", help="make an invite link")
    invite.add_argument("--role", required=True, choices=["director", "staff", "teacher"])
    invite.add_argument("--post", help="post key or name (staff only), e.g. plumber or 水电工")
    invite.add_argument("--name", help="the person's name, shown instead of their Telegram name")
    invite.add_argument("--uses", type=int, default=1, help="how many people may use it (1)")
    invite.add_argument("--expires", default="7d", help="lifetime: 7d, 12h, 30m (7d)")
    invite.set_defaults(func=cmd_invite)

    profile = sub.add_parser("profile", help="school profile tools")
    profile_sub = profile.add_subparsers(dest="profile_command", required=True)
    check = profile_sub.add_parser("check", help="validate a profile file")
    check.add_argument("file")
    check.set_defaults(func=cmd_profile_check)

    jobs = sub.add_parser("jobs", help="scheduled jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_sub.add_parser("list", help="every job and its next run").set_defaults(func=cmd_jobs_list)
    run_job = jobs_sub.add_parser("run", help="run one job now")
    run_job.add_argument("name")
    run_job.set_defaults(func=cmd_jobs_run)

    backup = sub.add_parser("backup", help="consistent copy of the SQLite database")
    backup.add_argument("out", help="the backup file to write")
    backup.set_defaults(func=cmd_backup)

    export = sub.add_parser("export", help="Excel exports")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    logs = export_sub.add_parser("logs", help="the work-log ledger (工作台账) as Excel")
    logs.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
    logs.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
    logs.add_argument("--out", required=True, help="the .xlsx file to write")
    logs.set_defaults(func=cmd_export_logs)
    appraisal = export_sub.add_parser("appraisal", help="a month's appraisal as Excel, for pay")
    appraisal.add_argument("--period", required=True, help="the month, YYYY-MM")
    appraisal.add_argument("--out", required=True, help="the .xlsx file to write")
    appraisal.set_defaults(func=cmd_export_appraisal)
    tickets = export_sub.add_parser(
        "tickets", help="the repair ticket ledger (维修台账) with materials and cost, as Excel"
    )
    tickets.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
    tickets.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
    tickets.add_argument("--out", help="the .xlsx file to write (维修台账_FROM_TO.xlsx)")
    tickets.set_defaults(func=cmd_export_tickets)

    add_stickers_parser(sub, _bot_username)
    from bot.cli_energy import add_parsers as add_energy_parsers
    from bot.cli_plan import add_parsers as add_plan_parsers

    add_energy_parsers(export_sub)
    add_plan_parsers(sub, export_sub)
    services = export_sub.add_parser(
        "services", help="a month's meeting and reception services (会务台账) as Excel"
    )
    services.add_argument("period", nargs="?", help="the month, YYYY-MM (this month)")
    services.add_argument("--out", help="the .xlsx file to write (会务台账_YYYY-MM.xlsx)")
    services.set_defaults(func=cmd_export_services)

    demo = sub.add_parser("demo", help="play a scripted school against the sandbox")
    demo.add_argument("--verbose", action="store_true", help="also print the bot's logs")
    demo.add_argument(
        "--cockpit",
        type=int,
        metavar="PORT",
        help="then serve the cockpit on 127.0.0.1:PORT and print its address (Ctrl-C ends)",
    )
    demo.set_defaults(func=cmd_demo)

    sandbox = sub.add_parser("sandbox", help="serve the local Bot API sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8081)
    sandbox.add_argument("--token", default="123456:SANDBOX")
    sandbox.add_argument(
        "--latency",
        default="0",
        help="seconds every Bot API call waits before its answer, as Telegram's servers are "
        "some way off: 0.25, or a range such as 0.3-0.5 (0)",
    )
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `houqin` console command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (SettingsError, CliError) as exc:
        print(f"houqin: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A database or Bot API the settings point at wrongly: one line with the fix, not a
        # traceback. Anything else is a bug and keeps its traceback.
        try:
            settings: Settings | None = load_settings()
        except SettingsError:
            settings = None
        line = explain(exc, settings)
        if line is None:
            raise
        print(f"houqin: {line}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
