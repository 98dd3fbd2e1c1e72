"""`houqin demo` plays the scripted school and its transcript shows the foundation working."""

from __future__ import annotations

import pytest

from devtools.demo import run_demo


async def test_demo_runs_clean(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a Chinese Ubuntu desktop and a developer's shell may hold: the demo ignores it all.
    monkeypatch.setenv("LANGUAGE", "zh_CN:zh")
    monkeypatch.setenv("HOUQIN_LANGUAGE", "en")
    monkeypatch.setenv("HOUQIN_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    monkeypatch.delenv("HOUQIN_CHART_FONT", raising=False)
    assert await run_demo() == 0
    transcript = capsys.readouterr().out
    assert "$ houqin invite --role director" in transcript
    assert "你已注册为：张主任 · 后勤主任" in transcript
    assert "本群已绑定为维修群" in transcript
    assert "只有后勤主任可以这样操作" in transcript
    assert "every request the bot sent was valid" in transcript
    # The last scene promises a chart: it is sent, drawn with the font the demo brings along.
    assert "[图片] 示范中学 2026年11月 考评得分" in transcript


async def test_the_demo_ends_with_the_cockpit_of_its_school(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`make demo` ends by printing the cockpit's local address with a signed session: it
    opens the director's Today board until the demo is stopped."""
    import asyncio
    import re

    import aiohttp

    from tests.cockpit_cast import free_port

    port = free_port()
    stop = asyncio.Event()
    demo = asyncio.create_task(run_demo(cockpit_port=port, stop=stop))
    address = None
    for _ in range(1200):
        printed = capsys.readouterr().out
        found = re.search(r"http://127\.0\.0\.1:\d+/#tgWebAppData=(\S+?)&", printed)
        if found is not None:
            address = found
            break
        assert not demo.done(), printed
        await asyncio.sleep(0.05)
    assert address is not None, "the demo never printed the cockpit's address"
    from urllib.parse import unquote

    headers = {"Authorization": "tma " + unquote(address.group(1))}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/api/today", headers=headers) as response,
    ):
        assert response.status == 200
        today = await response.json()
    assert today["view"] == "director"
    stop.set()
    assert await demo == 0
