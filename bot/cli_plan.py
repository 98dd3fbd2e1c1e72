"""`houqin plan template`, `houqin plan import FILE` and `houqin export plan`: the semester
plan (学期工作计划) as Excel on the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from actions.plans import PlanError, import_plan
from bot.cli_errors import CliError, load_profile_or_fail
from bot.cli_export import _write_export
from notices.plans_sheet import read_rows, summary_workbook, template_workbook
from notices.services import build_services
from school.i18n import Translate, translator
from school.profile import SchoolProfile
from school.settings import load_settings
from storage import plans
from storage.database import migrate_sync


def cmd_plan_template(args: argparse.Namespace) -> int:
    """Write the plan template, its example rows the 示范中学's sample plan."""
    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise CliError(f"--out: folder {str(out.parent)!r} does not exist")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    out.write_bytes(template_workbook(profile, translator(settings.language.value)))
    print(f"{out}: the semester plan template (replace the example rows, then: houqin plan import)")
    return 0


def cmd_plan_import(args: argparse.Namespace) -> int:
    """Import a filled-in plan (all rows or none)."""
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{args.file}: no such file")
    rows, problems = read_rows(path.read_bytes())
    if problems:
        raise CliError("nothing imported:\n" + "\n".join(problems))
    if not rows:
        raise CliError("nothing imported: the plan sheet has no rows")
    settings = load_settings()
    load_profile_or_fail(settings)
    migrate_sync(settings.database_url)
    services = build_services(settings)
    semester = args.semester or plans.semester_of(services.local_now().date())

    async def run() -> tuple[int, int]:
        try:
            return await import_plan(services, semester, rows)
        finally:
            await services.database.dispose()

    try:
        added, updated = asyncio.run(run())
    except PlanError as exc:
        raise CliError("nothing imported:\n" + "\n".join(exc.problems)) from None
    print(f"{semester}: {added} item(s) added, {updated} updated")
    return 0


def cmd_export_plan(args: argparse.Namespace) -> int:
    """Write a semester's summary (done on time, late, not done) for the end-of-term report."""

    async def build(
        session: AsyncSession, profile: SchoolProfile, t_: Translate
    ) -> tuple[bytes, tuple[str, int]]:
        semester = args.semester or await plans.latest_semester(session)
        if semester is None:
            raise CliError("there is no semester plan yet (houqin plan import)")
        found = await plans.entries(session, semester)
        today = date.today()
        return summary_workbook(semester, found, today, t_), (semester, len(found))

    out, (semester, count) = _write_export(args.out or "plan.xlsx", build)
    print(f"{out}: {semester}, {count} item(s)")
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    export_sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """`houqin plan template|import` and `houqin export plan`."""
    plan = sub.add_parser("plan", help="the semester work plan (学期工作计划)")
    plan_sub = plan.add_subparsers(dest="plan_command", required=True)
    template = plan_sub.add_parser("template", help="write the Excel template (with a sample)")
    template.add_argument("--out", default="plan.xlsx", help="the .xlsx file to write")
    template.set_defaults(func=cmd_plan_template)
    imported = plan_sub.add_parser("import", help="import a filled-in plan")
    imported.add_argument("file", help="the .xlsx file")
    imported.add_argument("--semester", help="e.g. 2026秋季 (default: the current semester)")
    imported.set_defaults(func=cmd_plan_import)
    export = export_sub.add_parser("plan", help="the semester plan's summary as Excel")
    export.add_argument("--semester", help="default: the latest imported")
    export.add_argument("--out", help="the .xlsx file to write (default: plan.xlsx)")
    export.set_defaults(func=cmd_export_plan)
