"""`houqin stickers`: print the QR sticker sheets (扫码报修), and revoke a sticker.

houqin stickers [--building 教学楼] [--campus 东校区] --out stickers.pdf
houqin stickers revoke qr-XXXXXXXXXXXXXXXX
houqin stickers revoke --place 教学楼3楼302 [--equipment 投影仪]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli_errors import CliError, load_profile_or_fail
from school.clock import SystemClock
from school.settings import Settings, load_settings
from school.sticker_places import label_of

if TYPE_CHECKING:
    from notices.stickers import Label
    from storage.models import PlaceSticker


Username = Callable[[Settings], Awaitable[str | None]]


def cmd_stickers(args: argparse.Namespace, bot_username: Username) -> int:
    """Write the sheets of the profile's places (narrowed by --building / --campus);
    `bot_username` finds the bot's username (bot.cli: remembered, or asked of Telegram)."""
    from notices.stickers import issue_labels, sheets_pdf
    from storage.database import Database, migrate_sync

    if not args.out:
        raise CliError("--out is required: the .pdf file to write")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"--out: folder {str(out.parent)!r} does not exist")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    migrate_sync(settings.database_url)

    async def run() -> tuple[list[Label], str]:
        username = await bot_username(settings)
        if not username:
            raise CliError(
                "the bot's username is not known yet: start the bot once, or set "
                "HOUQIN_TELEGRAM_BOT_TOKEN"
            )
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                labels = await issue_labels(
                    session,
                    profile,
                    username,
                    now=SystemClock().now(),
                    building=args.building,
                    campus=args.campus,
                )
        except KeyError as missing:
            what = "--building" if args.building else "--campus"
            raise CliError(f"{what}: {missing.args[0]!r} is not in the school profile") from None
        finally:
            await database.dispose()
        return labels, username

    labels, username = asyncio.run(run())
    out.write_bytes(sheets_pdf(profile.school.name, labels))
    count = len(labels)
    pages = -(-count // 8)
    print(f"{out}: {count} sticker(s) on {pages} A4 page(s), links to t.me/{username}")
    return 0


def cmd_stickers_revoke(args: argparse.Namespace) -> int:
    """Revoke a sticker by its token, or every live sticker of a place."""
    from storage import stickers
    from storage.database import Database, migrate_sync

    if bool(args.token) == bool(args.place):
        raise CliError("give a token, or --place (not both)")
    settings = load_settings()
    profile = load_profile_or_fail(settings)
    migrate_sync(settings.database_url)
    spot: tuple[str, str, str] | None = None
    if args.place:
        match = profile.match_place(args.place)
        if match is None:
            raise CliError(f"--place: no building of the profile in {args.place!r}")
        spot = (match.building.key, match.floor or "", match.room or "")

    async def run() -> list[PlaceSticker]:
        database = Database(settings.database_url)
        now = SystemClock().now()
        try:
            async with database.transaction() as session:
                if spot is not None:
                    return await stickers.revoke_at(
                        session, *spot, equipment=args.equipment, now=now
                    )
                found = await stickers.revoke(session, args.token, now=now)
                return [found] if found is not None else []
        finally:
            await database.dispose()

    retired = asyncio.run(run())
    if not retired:
        if spot is not None:
            label = label_of(profile, *spot, args.equipment or "")
            raise CliError(f"no live sticker at {label}")
        raise CliError(f"no sticker {args.token!r}")
    for sticker in retired:
        print(f"revoked {sticker.token}  {sticker.label}")
    return 0


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], bot_username: Username
) -> None:
    """`houqin stickers …` on the command line's parser."""
    parser = sub.add_parser("stickers", help="QR stickers per place (扫码报修) as A4 PDF sheets")
    parser.add_argument("--building", help="only this building (name, alias or key)")
    parser.add_argument("--campus", help="only this campus (name or key)")
    parser.add_argument("--out", help="the .pdf file to write")
    parser.set_defaults(func=lambda args: cmd_stickers(args, bot_username))
    actions = parser.add_subparsers(dest="stickers_command")
    revoke = actions.add_parser("revoke", help="retire a sticker: its token, or --place")
    revoke.add_argument("token", nargs="?", help="the token (the link's start=… part)")
    revoke.add_argument("--place", help="every live sticker of a place, e.g. 教学楼3楼302")
    revoke.add_argument(
        "--equipment", help="with --place: only this equipment's sticker (e.g. 投影仪)"
    )
    revoke.set_defaults(func=cmd_stickers_revoke)
