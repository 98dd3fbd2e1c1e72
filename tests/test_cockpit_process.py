"""The cockpit in the shipped process (`houqin run`): one process serves the bot and the
cockpit, in webhook mode on one port with the webhook, and SIGTERM stops it cleanly (the
server first: afterwards nothing listens)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from cockpit import auth
from devtools.harness import BotProcess, until
from devtools.sandbox.server import BotApiSandbox
from school.clock import SystemClock
from storage.database import Database
from storage.models import Person, Role
from tests.cockpit_cast import COCKPIT_URL, free_port

pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def director(database: Database, telegram_id: int) -> None:
    async with database.transaction() as session:
        session.add(
            Person(
                telegram_id=telegram_id,
                name="张主任",
                role=Role.DIRECTOR,
                language="en",
                created_at=SystemClock().now(),
            )
        )


async def get(url: str, init_data: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"tma {init_data}"} if init_data else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_houqin_run_serves_the_cockpit_and_stops_cleanly(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    user = sandbox.add_user("张主任", language_code="en")
    await director(database, user.id)
    port = free_port()
    settings = {"HOUQIN_COCKPIT_URL": COCKPIT_URL, "HOUQIN_COCKPIT_PORT": str(port)}
    bot = BotProcess(sandbox, tmp_path, database.url, env=settings)
    try:
        await bot.start()
        await until(lambda: user.id in sandbox.menu_buttons, "the menu button")
        assert sandbox.menu_buttons[user.id]["web_app"]["url"] == COCKPIT_URL + "/"
        status, page = await get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "assets/app.js" in page
        signed = auth.launch_data(user.id, sandbox.token, now=SystemClock().now())
        status, me = await get(f"http://127.0.0.1:{port}/api/me", signed)
        assert status == 200 and "张主任" in me
        assert (await get(f"http://127.0.0.1:{port}/api/me"))[0] == 401
    finally:
        assert await bot.stop() == 0
    assert not listening(port)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_webhook_mode_serves_webhook_and_cockpit_on_one_port(
    sandbox: BotApiSandbox, tmp_path: Path, database: Database
) -> None:
    user = sandbox.add_user("张主任", language_code="en")
    await director(database, user.id)
    port, cockpit_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    settings = {
        "HOUQIN_MODE": "webhook",
        "HOUQIN_WEBHOOK_URL": url,
        "HOUQIN_WEBHOOK_SECRET": "s3cret-token",
        "HOUQIN_WEBHOOK_PORT": str(port),
        "HOUQIN_COCKPIT_URL": COCKPIT_URL,
        "HOUQIN_COCKPIT_PORT": str(cockpit_port),
    }
    bot = BotProcess(sandbox, tmp_path, database.url, env=settings)
    try:
        await bot.start()
        await until(lambda: sandbox.webhook.get("url") == url, "the webhook to be set")
        assert sandbox.webhook["secret_token"] == "s3cret-token"
        await user.send("/cockpit", settle=False)
        reply = await sandbox.wait_for_message(
            user.id, lambda m: m.reply_markup is not None and "web_app" in str(m.reply_markup)
        )
        assert sandbox.stats["webhook_delivered"] >= 1
        assert reply.reply_markup is not None
        signed = auth.launch_data(user.id, sandbox.token, now=SystemClock().now())
        status, me = await get(f"http://127.0.0.1:{port}/api/me", signed)
        assert status == 200 and "张主任" in me
        assert not listening(cockpit_port)  # one server: the webhook's
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json={"update_id": 1}) as response:
                assert response.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            async with http.post(url, data=b"not json", headers=headers) as response:
                assert response.status == 400
            async with http.post(url, json=[1, 2], headers=headers) as response:
                assert response.status == 400
    finally:
        assert await bot.stop() == 0
    assert not listening(port)
