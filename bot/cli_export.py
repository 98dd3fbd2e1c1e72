"""`houqin export logs`, `houqin export appraisal` and `houqin export tickets`: the Excel files
on the command line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli_errors import CliError, load_profile_or_fail
from notices.appraisal_export import appraisal_workbook
from notices.booking_export import services_filename, services_workbook
from notices.export import MAX_LEDGER_DAYS, ledger_workbook
from notices.ticket_export import MAX_DAYS, tickets_filename, tickets_workbook
from school.clock import SystemClock
from school.i18n import Translate, translator
from school.profile import SchoolProfile
from school.settings import load_settings
from storage.appraisal import Month
from storage.database import Database, migrate_sync

T = TypeVar("T")
Build = Callable[[AsyncSession, SchoolProfile, Translate], Awaitable[tuple[bytes, T]]]


def _cli_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a date like 2026-11-01") from None


def _write_export(out_arg: str, build: Build[T]) -> tuple[Path, T]:
    """Check the output folder, read the settings and profile, migrate, build the workbook in
    one read of the database and write it; returns the file and what `build` tells of it."""
    out = Path(out_arg)
    if out.parent and not out.parent.exists():
        raise CliError(f"--out: folder {str(out.parent)!r} does not exist")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    migrate_sync(settings.database_url)
    t_ = translator(settings.language.value)

    async def run() -> tuple[bytes, T]:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await build(session, profile, t_)
        finally:
            await database.dispose()

    data, about = asyncio.run(run())
    out.write_bytes(data)
    return out, about


def cmd_export_logs(args: argparse.Namespace) -> int:
    """`houqin export logs --from 2026-11-01 --to 2026-11-30 --out FILE`: write the ledger.

    Expects ``args.date_from``, ``args.date_to`` (strings, YYYY-MM-DD) and ``args.out`` (path).
    """
    start = _cli_date(args.date_from, "--from")
    end = _cli_date(args.date_to, "--to")
    if end < start:
        raise CliError("--to is before --from")
    if (end - start).days + 1 > MAX_LEDGER_DAYS:
        raise CliError(f"the range is longer than {MAX_LEDGER_DAYS} days; export it in parts")

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, int]:
        return await ledger_workbook(session, profile, start, end, t_, now=SystemClock().now())

    out, count = _write_export(args.out, build)
    print(f"{out}: {count} log(s) from {start} to {end}")
    return 0


def cmd_export_appraisal(args: argparse.Namespace) -> int:
    """`houqin export appraisal --period 2026-10 --out FILE`: write the appraisal workbook.

    Expects ``args.period`` (YYYY-MM) and ``args.out`` (a path).
    """
    try:
        month = Month.parse(str(args.period))
    except ValueError:
        raise CliError(f"--period: {args.period!r} is not a month like 2026-10") from None

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, str]:
        today = SystemClock().now().astimezone(profile.tz).date()
        data, result, published = await appraisal_workbook(session, profile, month, t_, today=today)
        state = "published" if published else "not published yet (computed now)"
        return data, f"appraisal of {month}, {len(result.ranked)} people, {state}"

    out, about = _write_export(args.out, build)
    print(f"{out}: {about}")
    return 0


def cmd_export_tickets(args: argparse.Namespace) -> int:
    """`houqin export tickets --from 2026-11-01 --to 2026-11-30 [--out FILE]`: write the
    repair ticket ledger (the tickets reported in the range, with materials and cost).

    Expects ``args.date_from``, ``args.date_to`` (YYYY-MM-DD) and ``args.out`` (a path or None).
    """
    start = _cli_date(args.date_from, "--from")
    end = _cli_date(args.date_to, "--to")
    if end < start:
        raise CliError("--to is before --from")
    if (end - start).days + 1 > MAX_DAYS:
        raise CliError(f"the range is longer than {MAX_DAYS} days; export it in parts")
    out_arg = args.out or tickets_filename(start, end, translator(load_settings().language.value))

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, str]:
        data, count, cost = await tickets_workbook(session, profile, start, end, t_)
        return data, f"{count} ticket(s) reported from {start} to {end}, cost {cost} yuan"

    out, about = _write_export(out_arg, build)
    print(f"{out}: {about}")
    return 0


def cmd_export_services(args: argparse.Namespace) -> int:
    """`houqin export services [2026-11] [--out FILE]`: the month's meeting and reception
    services (this month when none is given) as Excel.

    Expects ``args.period`` (YYYY-MM or None) and ``args.out`` (a path or None).
    """
    settings = load_settings()
    tz = load_profile_or_fail(settings).tz
    try:
        if args.period:
            month = Month.parse(str(args.period))
        else:
            month = Month.of(SystemClock().now().astimezone(tz).date())
    except ValueError:
        raise CliError(f"period: {args.period!r} is not a month like 2026-11") from None
    out_arg = args.out or services_filename(month, translator(settings.language.value))

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, int]:
        return await services_workbook(session, profile, month, t_)

    out, count = _write_export(out_arg, build)
    print(f"{out}: {count} booking(s) in {month}")
    return 0
