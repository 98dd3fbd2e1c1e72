"""`houqin export logs` and `houqin export appraisal`: the Excel files on the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path

from bot.cli_errors import CliError, load_profile_or_fail
from notices.appraisal_export import appraisal_workbook
from notices.export import MAX_LEDGER_DAYS, ledger_workbook
from storage.appraisal import AppraisalResult, Month

# --- houqin export logs --------------------------------------------------------------------------


def _cli_date(text: str, option: str) -> date:

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option}: {text!r} is not a date like 2026-11-01") from None


def cmd_export_logs(args: argparse.Namespace) -> int:
    """`houqin export logs --from 2026-11-01 --to 2026-11-30 --out FILE`: write the ledger.

    Expects ``args.date_from``, ``args.date_to`` (strings, YYYY-MM-DD) and ``args.out`` (path).
    """
    from school.i18n import translator
    from school.settings import load_settings
    from storage.database import Database, migrate_sync

    start = _cli_date(args.date_from, "--from")
    end = _cli_date(args.date_to, "--to")
    if end < start:
        raise CliError("--to is before --from")
    if (end - start).days + 1 > MAX_LEDGER_DAYS:
        raise CliError(f"the range is longer than {MAX_LEDGER_DAYS} days; export it in parts")
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise CliError(f"--out: folder {str(out.parent)!r} does not exist")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    migrate_sync(settings.database_url)
    t_ = translator(settings.language.value)

    async def _build() -> tuple[bytes, int]:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await ledger_workbook(session, profile, start, end, t_)
        finally:
            await database.dispose()

    data, count = asyncio.run(_build())
    out.write_bytes(data)
    print(f"{out}: {count} log(s) from {start} to {end}")
    return 0


def cmd_export_appraisal(args: argparse.Namespace) -> int:
    """`houqin export appraisal --period 2026-10 --out FILE`: write the appraisal workbook.

    Expects ``args.period`` (YYYY-MM) and ``args.out`` (a path).
    """
    from school.clock import SystemClock
    from school.i18n import translator
    from school.settings import load_settings
    from storage.database import Database, migrate_sync

    try:
        month = Month.parse(str(args.period))
    except ValueError:
        raise CliError(f"--period: {args.period!r} is not a month like 2026-10") from None
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise CliError(f"--out: folder {str(out.parent)!r} does not exist")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    migrate_sync(settings.database_url)
    t_ = translator(settings.language.value)
    today = SystemClock().now().astimezone(profile.tz).date()

    async def _build() -> tuple[bytes, AppraisalResult, bool]:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                return await appraisal_workbook(session, profile, month, t_, today=today)
        finally:
            await database.dispose()

    data, result, published = asyncio.run(_build())
    out.write_bytes(data)
    state = "published" if published else "not published yet (computed now)"
    print(f"{out}: appraisal of {month}, {len(result.ranked)} people, {state}")
    return 0
