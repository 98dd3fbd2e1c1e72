"""`houqin demo` plays the scripted school and its transcript shows the foundation working."""

from __future__ import annotations

import pytest

from devtools.demo import run_demo


async def test_demo_runs_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_demo() == 0
    transcript = capsys.readouterr().out
    assert "$ houqin invite --role director" in transcript
    assert "你已注册为：张主任 · 后勤主任" in transcript
    assert "本群已绑定为维修群" in transcript
    assert "只有后勤主任可以这样操作" in transcript
    assert "every request the bot sent was valid" in transcript
