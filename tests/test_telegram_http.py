"""The Bot API HTTP client honours the environment's proxy settings (read once per host)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram.error import NetworkError
from telegram.request import RequestData

from bot.telegram_http import AiohttpRequest
from devtools.harness import free_port

BOT_API = "http://api.telegram.invalid/bot123:abc/getMe"


@pytest.fixture
async def proxy() -> AsyncIterator[list[str]]:
    """An HTTP proxy that answers every request itself and records the URLs asked for."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    seen.append(f"http://127.0.0.1:{port}")
    yield seen
    await runner.cleanup()


async def test_requests_go_through_the_proxy_the_environment_names(
    proxy: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    address = proxy.pop(0)
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    request = AiohttpRequest(2)
    await request.initialize()
    try:
        for _ in range(2):
            status, _body = await request.do_request(BOT_API, "POST", RequestData())
            assert status == 200
    finally:
        await request.shutdown()
    assert proxy == [BOT_API, BOT_API]


async def test_no_proxy_hosts_are_asked_directly(
    proxy: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.pop(0))
    monkeypatch.setenv("NO_PROXY", "api.telegram.invalid")
    request = AiohttpRequest(1, connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):  # .invalid never resolves
            await request.do_request(BOT_API, "POST", RequestData())
    finally:
        await request.shutdown()
    assert proxy == []
