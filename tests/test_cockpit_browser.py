"""The cockpit in a real headless Chromium (Debian's `chromium`, driven by playwright; no
browser is downloaded): the page reads Telegram's launch data from its address's hash, the
Today board shows what /tickets and /logs say in the chat, bad launch data shows the error,
and the light and dark themes render.

HOUQIN_SCREENSHOTS=docs writes the README's screenshots (docs/cockpit-today-*.png).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from storage import people, tickets
from tests.cockpit_cast import launch_data, report_with_photo, seed, tiny_png, with_cockpit
from tests.test_cockpit import chat_ranking, chat_says, pc_link_token

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (apt-get install chromium; make test and "
        ".ci/run install it): the cockpit's browser tests are skipped",
    ),
]

# Telegram's own theme parameters (as its apps send them), light and dark.
LIGHT = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}
DARK = {
    "bg_color": "#212d3b",
    "text_color": "#ffffff",
    "hint_color": "#7d8b99",
    "link_color": "#5eabe1",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#151e27",
}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def cockpit(
    services: Services, sandbox: BotApiSandbox
) -> AsyncIterator[tuple[BotApiSandbox, Services]]:
    async with running_bot(with_cockpit(services), sandbox) as application:
        live = application.bot_data.services
        assert live is not None
        yield sandbox, live
    assert sandbox.rejected == [], sandbox.rejected


def address(services: Services, init_data: str, theme: dict[str, str]) -> str:
    """The page as Telegram opens it: launch data and theme in the hash, never sent."""
    themed = quote(json.dumps(theme, separators=(",", ":")))
    return (
        f"http://127.0.0.1:{services.settings.cockpit_port}/"
        f"#tgWebAppData={quote(init_data)}&tgWebAppVersion=9.0&tgWebAppPlatform=android"
        f"&tgWebAppThemeParams={themed}"
    )


async def open_page(browser: Any, url: str) -> Any:
    page = await browser.new_page(viewport=PHONE, device_scale_factor=2)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(url)
    await page.wait_for_selector("body[data-ready]")
    page.requests = requests
    return page


async def loaded_width(page: Any, selector: str) -> int:
    """The picture's natural width once drawn (polled from outside: the page's policy
    forbids the eval that wait_for_function needs)."""
    for _attempt in range(100):
        width = await page.locator(selector).evaluate("img => img.complete && img.naturalWidth")
        if width:
            return int(width)
        await asyncio.sleep(0.05)
    return 0


async def figure(page: Any, element: str) -> int:
    return int(await page.inner_text(f"#{element}"))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_today_in_chromium_matches_the_chat(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock, browser: Any, tmp_path: Path
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    said = await chat_says(sandbox, school)
    init_data = await launch_data(services, school.director)
    page = await open_page(browser, address(services, init_data, LIGHT))
    assert await page.get_attribute("body", "data-ready") == "director"
    shown = {
        "tickets": await figure(page, "tickets-count"),
        "overdue": await figure(page, "tickets-overdue"),
        "filed": await figure(page, "logs-filed"),
        "late": await figure(page, "logs-late"),
        "missing": await figure(page, "logs-missing"),
        "leave": await figure(page, "logs-leave"),
    }
    assert shown == said
    assert await figure(page, "approvals-join") == 1
    assert await page.inner_text("#round-progress") == "0/7"
    assert "11-20 18:00 · 1 problem(s)" in await page.inner_text("#round-announced")
    # The overdue urgent report heads the board; the launch data left the address bar.
    first = page.locator(".column .card").first
    assert await first.get_attribute("data-ticket") == school.numbers[0]
    assert "overdue" in (await first.get_attribute("class") or "")
    assert "tgWebAppData" not in page.url
    # A press on a card opens the ticket and its timeline; "back" returns to the board.
    await first.click()
    await page.wait_for_selector("body[data-ready=ticket]")
    assert school.numbers[0] in await page.inner_text("#ticket-number")
    assert "王芳 reported it" in await page.inner_text("#timeline")
    await page.click("#back")
    await page.wait_for_selector("body[data-ready=director]")
    assert await figure(page, "tickets-count") == said["tickets"]
    # This month's tab: the ranking /appraisal preview shows.
    ranked = await chat_ranking(sandbox, school)
    await page.click("#tab-month")
    await page.wait_for_selector("body[data-ready=month]")
    rows = page.locator("#ranking li")
    shown_ranking = [
        (
            i + 1,
            await rows.nth(i).get_attribute("data-person"),
            await rows.nth(i).locator(".total").inner_text(),
        )
        for i in range(await rows.count())
    ]
    assert shown_ranking == ranked
    # The repair chart /stats sends, fetched with the launch data and drawn from a blob.
    assert await loaded_width(page, "#month-chart") > 0
    assert (await page.get_attribute("#month-chart", "src") or "").startswith("blob:")
    await page.click("#tab-today")
    await page.wait_for_selector("body[data-ready=director]")
    # Everything came from the bot itself: no CDN, no telegram.org script.
    local = f"http://127.0.0.1:{services.settings.cockpit_port}/"
    assert page.requests
    assert all(url.startswith((local, "blob:" + local)) for url in page.requests)
    assert not any("tgWebAppData" in url or "hash=" in url for url in page.requests)
    await page.close()

    # The README's screenshots: Chinese, as the school sees it, light and dark.
    async with services.database.transaction() as session:
        await people.set_language(session, school.director.id, "zh_CN")
    folder = Path(os.environ.get("HOUQIN_SCREENSHOTS") or tmp_path)
    backgrounds = []
    for name, theme in (("light", LIGHT), ("dark", DARK)):
        page = await open_page(browser, address(services, init_data, theme))
        assert await page.inner_text("#title") == "后勤工作台"
        shot = folder / f"cockpit-today-{name}.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        backgrounds.append(await page.evaluate("getComputedStyle(document.body).backgroundColor"))
        await page.close()
    assert backgrounds == ["rgb(255, 255, 255)", "rgb(33, 45, 59)"]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_bad_launch_data_shows_no_data_in_chromium(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock, browser: Any
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    good = await launch_data(services, school.director)
    forged = good.replace("hash=", "hash=0")
    other_bot = await launch_data(services, school.director, token="999:another-bot")
    for bad in (forged, other_bot, ""):
        page = await open_page(browser, address(services, bad, LIGHT))
        assert await page.get_attribute("body", "data-ready") == "error"
        assert "401" in await page.inner_text("#main")
        assert "赵师傅" not in await page.content()
        await page.close()
    # A staff member's page is their own: their jobs, logs and score, not the board.
    page = await open_page(
        browser, address(services, await launch_data(services, school.electrician), DARK)
    )
    assert await page.get_attribute("body", "data-ready") == "staff"
    assert await page.locator("#approvals").count() == 0
    assert "2026-11-23" in await page.inner_text("#my-logs")
    await page.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_pc_link_opens_the_cockpit_once_in_chromium(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock, browser: Any
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    said = await chat_says(sandbox, school)
    await school.director.send("/cockpit pc")
    token = pc_link_token(sandbox.last_message(school.director.private_chat_id).shown_text)
    url = f"http://127.0.0.1:{services.settings.cockpit_port}/#login={token}"
    page = await open_page(browser, url)
    assert await page.get_attribute("body", "data-ready") == "director"
    assert await figure(page, "tickets-count") == said["tickets"]
    assert "login=" not in page.url
    await page.reload()  # the session outlives a reload of the tab
    await page.wait_for_selector("body[data-ready=director]")
    await page.close()
    again = await open_page(browser, url)  # another tab: the link is used up
    assert await again.get_attribute("body", "data-ready") == "error"
    assert "401" in await again.inner_text("#main")
    await again.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_teacher_accepts_a_finished_repair_in_chromium(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock, browser: Any
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    number = school.numbers[0]
    async with services.database.reading() as session:
        found = await tickets.get_by_number(session, number)
    assert found is not None and found.group_chat_id is not None

    def card() -> Any:
        assert found is not None and found.group_chat_id is not None
        return next(
            m
            for m in sandbox.messages(found.group_chat_id, from_bot=True)
            if m.message_id == found.group_message_id
        )

    electrician = school.electrician
    await electrician.press(card(), "Take")
    await electrician.press(card(), "Repair done")
    await electrician.press(sandbox.last_message(electrician.private_chat_id), "Fixed")
    await electrician.press(sandbox.last_message(electrician.private_chat_id), "Skip")
    await electrician.press(
        sandbox.last_message(electrician.private_chat_id), "⏭ Skip materials and hours"
    )
    page = await open_page(
        browser, address(services, await launch_data(services, school.teacher), LIGHT)
    )
    assert await page.get_attribute("body", "data-ready") == "teacher"
    await page.click(f"[data-ticket='{number}']")
    await page.wait_for_selector("#acceptance")
    mark = sandbox.mark()
    await page.click("[data-stars='5']")
    await page.wait_for_selector("#acceptance-said")
    assert await page.locator("#acceptance").count() == 0
    assert "Completed" in await page.inner_text("#ticket-number")
    heard = await sandbox.wait_for_message(
        electrician.private_chat_id,
        lambda m: "accepted by the reporter" in m.shown_text,
        since=mark,
    )
    assert "★★★★★" in heard.shown_text
    await page.close()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_tickets_photo_shows_in_chromium(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock, browser: Any
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    number = await report_with_photo(sandbox, school.teacher, tiny_png(4, 3))
    page = await open_page(
        browser, address(services, await launch_data(services, school.teacher), LIGHT)
    )
    await page.click(f"[data-ticket='{number}']")
    await page.wait_for_selector("body[data-ready=ticket]")
    assert await loaded_width(page, "#photos img[data-photo='0']") == 4
    shown = page.locator("#photos img[data-photo='0']")
    assert await shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [4, 3]
    assert (await shown.get_attribute("src") or "").startswith("blob:")
    await page.close()
