"""The shipped command, as an operator runs it: `houqin run` against a local Bot API server.

The bot runs as its own process with TELEGRAM_BASE_URL pointing at the sandbox, registers a
director from a link printed by `houqin invite`, binds a group, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from devtools.sandbox.server import BotApiSandbox


async def _houqin(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_houqin_run_against_a_local_bot_api_server(tmp_path: Path) -> None:
    async with BotApiSandbox() as sandbox:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")},
            "TELEGRAM_BOT_TOKEN": sandbox.token,
            "TELEGRAM_BASE_URL": sandbox.base_url,
            "TELEGRAM_BASE_FILE_URL": sandbox.base_file_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'houqin.db'}",
            "LOG_LEVEL": "WARNING",
        }
        invite = await _houqin(
            "invite", "--role", "director", "--name", "张主任", env=env, cwd=tmp_path
        )
        out, err = await asyncio.wait_for(invite.communicate(), 60)
        assert invite.returncode == 0, err.decode()
        link, code = out.decode().strip().splitlines()
        assert link == f"https://t.me/{sandbox.bot_username}?start={code}"

        bot = await _houqin("run", env=env, cwd=tmp_path)
        try:
            for _ in range(300):  # start-up ends by publishing the command lists
                if any(method == "setMyCommands" for method, *_rest in sandbox.requests):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the bot never finished starting")
            director = sandbox.add_user("张建国")
            await director.start_bot(code, settle=False)
            await sandbox.wait_for_message(
                director.id, lambda m: "后勤主任" in m.shown_text, timeout=20
            )
            group = sandbox.add_group("维修群", members=[director])
            await sandbox.add_bot_to_group(group, by=director, settle=False)
            await director.send("/bind repair", chat=group, settle=False)
            await sandbox.wait_for_message(
                group.id, lambda m: "本群已绑定为维修群" in m.shown_text, timeout=20
            )
        finally:
            bot.send_signal(signal.SIGTERM)
            _out, bot_err = await asyncio.wait_for(bot.communicate(), 60)
        assert bot.returncode == 0, bot_err.decode()
        assert "Traceback" not in bot_err.decode()
        assert sandbox.rejected == []


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_webhook_mode_serves_updates_and_rejects_missing_secret(tmp_path: Path) -> None:
    import aiohttp

    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with BotApiSandbox() as sandbox:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")},
            "TELEGRAM_BOT_TOKEN": sandbox.token,
            "TELEGRAM_BASE_URL": sandbox.base_url,
            "TELEGRAM_BASE_FILE_URL": sandbox.base_file_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'houqin.db'}",
            "LOG_LEVEL": "WARNING",
            "MODE": "webhook",
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": "s3cret-token",
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        }
        bot = await _houqin("run", env=env, cwd=tmp_path)
        try:
            for _ in range(300):
                if sandbox.webhook.get("url"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the bot never set its webhook")
            assert sandbox.webhook["url"] == url
            assert sandbox.webhook["secret_token"] == "s3cret-token"
            user = sandbox.add_user("王老师")
            await user.send("/help", settle=False)
            await sandbox.wait_for_message(user.id, lambda m: "/start" in m.shown_text, timeout=20)
            assert sandbox.stats["webhook_delivered"] >= 1

            forged = {
                "update_id": 999,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": user.id, "type": "private"},
                    "text": "/help",
                },
            }
            async with aiohttp.ClientSession() as session:
                async with session.post(url, json=forged) as response:
                    assert response.status == 403
                async with session.post(
                    url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                ) as response:
                    assert response.status == 403
        finally:
            bot.send_signal(signal.SIGTERM)
            _out, bot_err = await asyncio.wait_for(bot.communicate(), 60)
        assert bot.returncode == 0, bot_err.decode()
        assert sandbox.rejected == []
