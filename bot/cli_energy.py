"""`houqin export energy [YEAR]`: the energy ledger (能耗台账) as Excel on the command line."""

from __future__ import annotations

import argparse
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.cli_errors import CliError
from bot.cli_export import _write_export
from notices.meters_export import energy_workbook
from school.i18n import Translate
from school.profile import SchoolProfile


def cmd_export_energy(args: argparse.Namespace) -> int:
    """Write a year's energy ledger (by building and month; the annual statistics)."""
    year = args.year if args.year is not None else date.today().year
    if not 2000 <= year <= 2100:
        raise CliError(f"{year} is not a year like 2026")
    out_arg = args.out or f"energy_{year}.xlsx"

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, int]:
        return await energy_workbook(session, profile, year, t_)

    out, count = _write_export(out_arg, build)
    print(f"{out}: the energy ledger of {year} from {count} reading(s)")
    return 0


def add_parsers(export_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`export energy` under `houqin export`."""
    energy = export_sub.add_parser(
        "energy", help="the energy ledger (能耗台账, GB/T 29117 annual statistics) as Excel"
    )
    energy.add_argument("year", nargs="?", type=int, help="the year (default: this year)")
    energy.add_argument("--out", help="the .xlsx file to write (default: energy_YEAR.xlsx)")
    energy.set_defaults(func=cmd_export_energy)
