"""The cockpit over HTTP, served by the running bot: launch data checked as Telegram documents
it (401), roles checked on the server (403), the Today numbers equal to what /tickets and
/logs say in the chat, /cockpit's button and the menu buttons."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cockpit import auth
from devtools.harness import running_bot
from devtools.sandbox.server import BotApiSandbox
from notices.services import Services
from school.clock import ManualClock
from school.settings import SettingsError, load_settings
from storage import tickets
from storage.models import Role
from tests.cockpit_cast import (
    COCKPIT_URL,
    School,
    launch_data,
    report_with_photo,
    seed,
    tiny_png,
    with_cockpit,
)
from tests.helpers import person_of, private_text, register

TOKEN = "123456:ABC-the-bots-token"
STATIC = Path(__file__).parents[1] / "cockpit" / "static"
FIRST_PAGE_BUDGET = 150 * 1024  # bytes, gzip-compressed


# --- the signature, as Telegram documents it -----------------------------------------------


NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_valid_launch_data_names_the_user() -> None:
    data = auth.launch_data(42, TOKEN, now=NOW, first_name="张主任")
    user = auth.validate(data, TOKEN, now=NOW + timedelta(hours=1), max_age=DAY)
    assert user.telegram_id == 42 and user.first_name == "张主任"


def test_a_known_example_signed_by_hand_is_accepted() -> None:
    """Computed independently of cockpit.auth.sign, from Telegram's description."""
    import hashlib
    import hmac
    from urllib.parse import quote

    fields = {"auth_date": str(int(NOW.timestamp())), "user": '{"id":7,"first_name":"A"}'}
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    data = "&".join(f"{k}={quote(v)}" for k, v in fields.items()) + f"&hash={digest}"
    assert auth.validate(data, TOKEN, now=NOW, max_age=DAY).telegram_id == 7


@pytest.mark.parametrize(
    "case",
    ["empty", "forged_user", "other_bot", "expired", "future", "no_hash", "garbage"],
)
def test_bad_launch_data_is_refused(case: str) -> None:
    good = auth.launch_data(42, TOKEN, now=NOW)
    data = {
        "empty": "",
        "forged_user": good.replace("%22id%22%3A42", "%22id%22%3A43"),
        "other_bot": auth.launch_data(42, "999:another-bot", now=NOW),
        "expired": auth.launch_data(42, TOKEN, now=NOW - DAY - timedelta(seconds=1)),
        "future": auth.launch_data(42, TOKEN, now=NOW + timedelta(hours=1)),
        "no_hash": re.sub(r"&?hash=[0-9a-f]+", "", good),
        "garbage": "%%%&&&==",
    }[case]
    assert data != good
    with pytest.raises(auth.InvalidInitData):
        auth.validate(data, TOKEN, now=NOW, max_age=DAY)


def test_the_first_page_is_within_its_size_budget() -> None:
    """What the first page loads (the page, its script and style sheet), gzip-compressed."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    loaded = [STATIC / "index.html"] + [
        STATIC / name for name in re.findall(r'(?:src|href)="assets/([^"]+)"', page)
    ]
    assert {p.name for p in loaded} == {"index.html", "app.js", "app.css"}
    size = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in loaded)
    assert size <= FIRST_PAGE_BUDGET, f"{size} bytes compressed"
    assert "telegram.org" not in page and "http" not in page.replace("http-equiv", "")


# --- through the running bot ---------------------------------------------------------------


@pytest.fixture
async def cockpit(
    services: Services, sandbox: BotApiSandbox
) -> AsyncIterator[tuple[BotApiSandbox, Services]]:
    served = with_cockpit(services)
    async with running_bot(served, sandbox) as application:
        live = application.bot_data.services
        assert live is not None
        yield sandbox, live
    assert sandbox.rejected == [], sandbox.rejected


def local(services: Services) -> str:
    return f"http://127.0.0.1:{services.settings.cockpit_port}"


async def fetch(
    services: Services, path: str, init_data: str | None, *, scheme: str = "tma"
) -> tuple[int, Any]:
    headers = {} if init_data is None else {"Authorization": f"{scheme} {init_data}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(local(services) + path, headers=headers) as response,
    ):
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


def chat_figures(tickets_text: str, logs_text: str) -> dict[str, int]:
    """What the chat says: '(3, 1 overdue)' under /tickets, 'Filed 1 · late 0 · missing 1 ·
    on leave 1' under /logs."""
    count = re.search(r"\((\d+), (\d+) overdue\)", tickets_text)
    logs = re.search(r"Filed (\d+) · late (\d+) · missing (\d+) · on leave (\d+)", logs_text)
    assert count is not None, tickets_text
    assert logs is not None, logs_text
    return {
        "tickets": int(count[1]),
        "overdue": int(count[2]),
        "filed": int(logs[1]),
        "late": int(logs[2]),
        "missing": int(logs[3]),
        "leave": int(logs[4]),
    }


RANKED = re.compile(r"(?m)^(\d+)\. (\S+?)(?:（[^）]*）)? (\d+\.\d|—) · ")


async def chat_ranking(sandbox: BotApiSandbox, school: School) -> list[tuple[int, str, str]]:
    """(rank, name, total) as /appraisal preview of this month lists them."""
    await school.director.send("/appraisal preview 2026-11")
    text = "\n".join(
        m.shown_text for m in sandbox.messages(school.director.private_chat_id, from_bot=True)[-3:]
    )
    ranked = [(int(rank), name, total) for rank, name, total in RANKED.findall(text)]
    assert ranked, text
    return ranked


async def chat_says(sandbox: BotApiSandbox, school: School) -> dict[str, int]:
    await school.director.send("/tickets")
    tickets_text = private_text(sandbox, school.director)
    await school.director.send("/logs")
    return chat_figures(tickets_text, private_text(sandbox, school.director))


async def test_today_matches_the_chat(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    said = await chat_says(sandbox, school)
    assert said == {"tickets": 3, "overdue": 1, "filed": 1, "late": 0, "missing": 1, "leave": 1}
    status, today = await fetch(
        services, "/api/today", await launch_data(services, school.director)
    )
    assert status == 200
    logs = today["logs"]
    assert {
        "tickets": today["tickets"]["count"],
        "overdue": today["tickets"]["overdue"],
        "filed": len(logs["filed"]),
        "late": logs["late"],
        "missing": len(logs["missing"]),
        "leave": len(logs["leave"]),
    } == said
    assert logs["missing"] == ["赵师傅"] and logs["leave"] == ["周师傅"]
    # The overdue urgent report heads its column; the stranger's request waits for approval.
    first = today["tickets"]["columns"][0]["tickets"][0]
    assert first["number"] == school.numbers[0] and first["overdue"] and first["urgent"]
    assert today["approvals"]["join_requests"] == ["陈老师"]
    assert (today["inspection"]["done"], today["inspection"]["total"]) == (0, 7)
    assert today["inspection"]["announced"] == {
        "name": today["inspection"]["name"],
        "at": "11-20 18:00",
        "problems": 1,
    }
    # This month: the ranking /appraisal preview shows, and the repair figures.
    ranked = await chat_ranking(sandbox, school)
    status, month = await fetch(
        services, "/api/month", await launch_data(services, school.director)
    )
    assert status == 200
    assert [(r["rank"], r["name"], r["total"]) for r in month["ranking"]] == ranked
    assert month["repairs"] == {"jobs": 0, "on_time": 0, "rework": 0, "rating": None}
    as_staff = await launch_data(services, school.electrician)
    assert (await fetch(services, "/api/month", as_staff))[0] == 403


async def test_launch_data_is_required_and_checked(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    good = await launch_data(services, director)
    assert (await fetch(services, "/api/today", good))[0] == 200
    forged = good.replace("hash=", "hash=0")
    other_bot = await launch_data(services, director, token="999:another-bot")
    old = good
    clock.advance(timedelta(hours=24, seconds=1))
    for refused in (None, "", forged, other_bot, old):
        status, body = await fetch(services, "/api/today", refused)
        assert status == 401, refused
        assert "张主任" not in str(body)
    # The page itself holds no data and is served to anyone.
    async with aiohttp.ClientSession() as http, http.get(local(services) + "/") as response:
        assert response.status == 200
        page = await response.text()
        assert "assets/app.js" in page
        assert "'self'" in response.headers["Content-Security-Policy"]


async def test_roles_are_checked_on_the_server(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    electrician = await person_of(services, school.electrician)
    fixer = await person_of(services, school.fixer)
    as_electrician = await launch_data(services, school.electrician)
    status, own = await fetch(services, f"/api/score/{electrician.id}", as_electrician)
    assert status == 200 and own["person"] == "李师傅"
    status, body = await fetch(services, f"/api/score/{fixer.id}", as_electrician)
    assert status == 403 and "赵师傅" not in str(body)
    assert (await fetch(services, "/api/today", as_electrician))[0] == 403
    as_teacher = await launch_data(services, school.teacher)
    assert (await fetch(services, "/api/today", as_teacher))[0] == 403
    assert (await fetch(services, f"/api/score/{electrician.id}", as_teacher))[0] == 403
    as_director = await launch_data(services, school.director)
    assert (await fetch(services, f"/api/score/{fixer.id}", as_director))[0] == 200
    # Each sees their own first page.
    status, mine = await fetch(services, "/api/view", as_electrician)
    assert mine["view"] == "staff" and [d["day"] for d in mine["logs"]["recent"]] == ["2026-11-23"]
    status, reports = await fetch(services, "/api/view", as_teacher)
    assert reports["view"] == "teacher"
    assert [r["number"] for r in reports["reports"]] == sorted(school.numbers, reverse=True)
    # A ticket and its timeline: the crew see any, a teacher their own only.
    first = reports["reports"][-1]
    assert first["number"] == school.numbers[0]
    status, detail = await fetch(services, f"/api/ticket/{first['id']}", as_teacher)
    assert status == 200 and detail["reporter"] == "王芳"
    assert [(e["who"], e["what"]) for e in detail["timeline"]] == [("王芳", "reported it")]
    assert (await fetch(services, f"/api/ticket/{first['id']}", as_electrician))[0] == 200
    other = await register(sandbox, services, "刘洋", Role.TEACHER)
    as_other = await launch_data(services, other)
    status, body = await fetch(services, f"/api/ticket/{first['id']}", as_other)
    assert status == 403 and "王芳" not in str(body)
    for bogus in ("999999", "99999999999999999999", "x"):
        assert (await fetch(services, f"/api/ticket/{bogus}", as_director))[0] == 404
    # Someone Telegram knows but the school does not: signed, yet not registered.
    stranger = sandbox.add_user("路人")
    signed = auth.launch_data(stranger.id, services.settings.telegram_bot_token, now=services.now())
    assert (await fetch(services, "/api/view", signed))[0] == 403


async def test_cockpit_command_and_menu_buttons(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    stranger = sandbox.add_user("路人")
    await stranger.start_bot()
    # Registering gave each their menu button; a stranger has none.
    for user in (director, teacher):
        button = sandbox.menu_buttons[user.id]
        assert button["type"] == "web_app" and button["web_app"]["url"] == COCKPIT_URL + "/"
    assert stranger.id not in sandbox.menu_buttons
    await director.send("/cockpit")
    message = sandbox.last_message(director.private_chat_id)
    assert message.reply_markup is not None
    opener = message.reply_markup["inline_keyboard"][0][0]
    assert opener["web_app"]["url"] == COCKPIT_URL + "/"
    await stranger.send("/cockpit")
    assert "not registered" in private_text(sandbox, stranger)
    # The private /start greeting is followed by the button (not for a stranger).
    await teacher.send("/start")
    greeting, offer = sandbox.messages(teacher.private_chat_id, from_bot=True)[-2:]
    assert "Welcome back" in greeting.shown_text and offer.reply_markup is not None
    assert offer.reply_markup["inline_keyboard"][0][0]["web_app"]["url"] == COCKPIT_URL + "/"
    await stranger.send("/start")
    assert "web_app" not in str(sandbox.last_message(stranger.private_chat_id).reply_markup)
    # Deactivated: the menu button goes, and the cockpit shows them nothing.
    signed = await launch_data(services, teacher)
    await director.send("/people")
    await director.press(sandbox.last_message(director.private_chat_id), "王芳")
    await director.press(sandbox.last_message(director.private_chat_id), "Yes, deactivate")
    assert sandbox.menu_buttons[teacher.id] == {"type": "default"}
    assert (await fetch(services, "/api/view", signed))[0] == 403


async def test_cockpit_off_says_how_to_turn_it_on(bot: BotApiSandbox, services: Services) -> None:
    director = await register(bot, services, "张主任", Role.DIRECTOR)
    teacher = await register(bot, services, "王芳", Role.TEACHER)
    await director.send("/cockpit")
    assert "HOUQIN_COCKPIT_URL" in private_text(bot, director)
    await teacher.send("/cockpit")
    assert "HOUQIN_COCKPIT_URL" not in private_text(bot, teacher)
    await teacher.send("/start")
    assert "欢迎回来" in private_text(bot, teacher)
    assert "web_app" not in str(bot.last_message(teacher.private_chat_id).reply_markup)
    assert director.id not in bot.menu_buttons and teacher.id not in bot.menu_buttons


def test_the_cockpit_address_must_be_https() -> None:
    with pytest.raises(SettingsError, match="HOUQIN_COCKPIT_URL: must be the public https://"):
        load_settings(_env_file=None, cockpit_url="http://192.168.1.5:8080")
    settings = load_settings(_env_file=None, cockpit_url="https://houqin.school.cn/")
    assert settings.cockpit_url == "https://houqin.school.cn" and settings.cockpit_on
    assert not load_settings(_env_file=None).cockpit_on


async def test_a_port_in_use_is_one_line_for_the_operator(
    services: Services, sandbox: BotApiSandbox
) -> None:
    import socket

    served = with_cockpit(services)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", served.settings.cockpit_port))
        taken.listen()
        with pytest.raises(SettingsError, match="HOUQIN_COCKPIT_LISTEN/HOUQIN_COCKPIT_PORT"):
            async with running_bot(served, sandbox):
                pass


async def post_login(services: Services, token: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(local(services) + "/api/login", json={"token": token}) as response,
    ):
        return response.status, await response.json()


def pc_link_token(text: str) -> str:
    found = re.search(re.escape(COCKPIT_URL) + r"/#login=([\w-]+)", text)
    assert found is not None, text
    return found.group(1)


async def test_a_pc_link_works_once_and_its_session_ends(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    staff = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    await staff.send("/cockpit pc")
    assert "Only the logistics director" in private_text(sandbox, staff)
    await director.send("/cockpit pc")
    text = private_text(sandbox, director)
    assert "10 minutes" in text and "works once" in text
    token = pc_link_token(text)
    status, answer = await post_login(services, token)
    assert status == 200
    session = answer["session"]
    assert (await fetch(services, "/api/today", session, scheme="session"))[0] == 200
    # Once only; a link older than its minutes, a forged session: refused.
    assert (await post_login(services, token))[0] == 401
    await director.send("/cockpit pc")
    late = pc_link_token(private_text(sandbox, director))
    clock.advance(timedelta(minutes=10, seconds=1))
    assert (await post_login(services, late))[0] == 401
    assert (await post_login(services, "made-up"))[0] == 401
    forged = session.replace(session.split(".")[0], "999", 1)
    assert (await fetch(services, "/api/today", forged, scheme="session"))[0] == 401
    # The session ends on its own.
    assert (await fetch(services, "/api/today", session, scheme="session"))[0] == 200
    clock.advance(timedelta(hours=8))
    assert (await fetch(services, "/api/today", session, scheme="session"))[0] == 401


async def post(services: Services, path: str, init_data: str | None, body: object) -> Any:
    headers = {} if init_data is None else {"Authorization": f"tma {init_data}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(local(services) + path, headers=headers, json=body) as response,
    ):
        answer = await response.json() if response.content_type == "application/json" else None
        return response.status, answer


async def test_a_teacher_accepts_or_sends_back_their_report_from_the_cockpit(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    """验收 and 返修 from the cockpit go through the chat's use case: the worker hears it, the
    card is edited; only the reporter may, once, while the job waits for acceptance."""
    sandbox, services = cockpit
    director = await register(sandbox, services, "张主任", Role.DIRECTOR)
    plumber = await register(sandbox, services, "李师傅", Role.STAFF, "electrician")
    teacher = await register(sandbox, services, "王芳", Role.TEACHER)
    other = await register(sandbox, services, "刘洋", Role.TEACHER)
    repair = sandbox.add_group("维修群", members=[director, plumber])
    await sandbox.add_bot_to_group(repair, by=director)
    await director.send("/bind repair", chat=repair)
    teachers = sandbox.add_group("教师群", members=[director, teacher, other])
    await sandbox.add_bot_to_group(teachers, by=director)
    await director.send("/bind teachers", chat=teachers)
    await teacher.send("/report 实验楼3楼女厕水龙头一直滴水", chat=teachers)
    number = re.search(r"BX-\d{4}-\d{3}", sandbox.last_message(teachers.id).shown_text)
    assert number is not None
    as_teacher = await launch_data(services, teacher)
    (report,) = (await fetch(services, "/api/view", as_teacher))[1]["reports"]
    ticket_path = f"/api/ticket/{report['id']}"
    assert not report["awaiting"]

    async with services.database.reading() as session:
        found = await tickets.get_ticket(session, report["id"])
    assert found is not None and found.group_message_id is not None

    def card() -> Any:
        return next(
            m
            for m in sandbox.messages(repair.id, from_bot=True)
            if m.message_id == found.group_message_id
        )

    async def finish() -> None:
        await plumber.press(card(), "Repair done")
        await plumber.press(sandbox.last_message(plumber.private_chat_id), "Fixed")
        await plumber.press(sandbox.last_message(plumber.private_chat_id), "Skip")
        await plumber.press(
            sandbox.last_message(plumber.private_chat_id), "⏭ Skip materials and hours"
        )

    # Not finished yet: nothing to accept.
    status, body = await post(services, ticket_path + "/accept", as_teacher, {"stars": 5})
    assert status == 409 and body["status"] == "Waiting to be taken"
    await plumber.press(card(), "Take")
    await finish()
    (report,) = (await fetch(services, "/api/view", as_teacher))[1]["reports"]
    assert report["awaiting"]
    status, detail = await fetch(services, ticket_path, as_teacher)
    assert status == 200 and detail["may_accept"]
    as_plumber = await launch_data(services, plumber)
    assert not (await fetch(services, ticket_path, as_plumber))[1]["may_accept"]
    # Only the reporter, with valid launch data and a real number of stars.
    as_other = await launch_data(services, other)
    assert (await post(services, ticket_path + "/accept", as_other, {"stars": 5}))[0] == 403
    assert (await post(services, ticket_path + "/accept", as_plumber, {"stars": 5}))[0] == 403
    assert (await post(services, ticket_path + "/accept", None, {"stars": 5}))[0] == 401
    forged = as_teacher.replace("hash=", "hash=0")
    assert (await post(services, ticket_path + "/accept", forged, {"stars": 5}))[0] == 401
    for bad in ({"stars": 0}, {"stars": 6}, {"stars": "5"}, {}, [5]):
        assert (await post(services, ticket_path + "/accept", as_teacher, bad))[0] == 400
    assert (await post(services, ticket_path + "/rework", as_teacher, {"reason": " "}))[0] == 400
    assert (await post(services, "/api/ticket/999999/accept", as_teacher, {"stars": 5}))[0] == 404

    # 返修: the worker hears what is still wrong, the job is theirs again.
    mark = sandbox.mark()
    status, body = await post(
        services, ticket_path + "/rework", as_teacher, {"reason": "还是在滴水"}
    )
    assert status == 200 and body["status"] == "Rework"
    heard = await sandbox.wait_for_message(
        plumber.private_chat_id, lambda m: "还是在滴水" in m.shown_text, since=mark
    )
    assert "asks for rework" in heard.shown_text
    status, body = await post(services, ticket_path + "/accept", as_teacher, {"stars": 5})
    assert status == 409 and body["status"] == "Rework"

    # Finished again; 验收 with four stars: the worker hears the rating, the card is closed.
    await finish()
    mark = sandbox.mark()
    status, body = await post(services, ticket_path + "/accept", as_teacher, {"stars": 4})
    assert status == 200 and body["status"] == "Completed"
    heard = await sandbox.wait_for_message(
        plumber.private_chat_id, lambda m: "accepted by the reporter" in m.shown_text, since=mark
    )
    assert "★★★★☆" in heard.shown_text
    await sandbox.settle()
    assert "Completed" in card().shown_text and "★★★★☆" in card().shown_text
    # A second press (or the stale chat notice) changes nothing and says where it stands.
    status, body = await post(services, ticket_path + "/accept", as_teacher, {"stars": 1})
    assert status == 409 and body["status"] == "Completed" and number.group(0) in body["message"]
    status, detail = await fetch(services, ticket_path, as_teacher)
    assert not detail["may_accept"]
    assert [e["what"] for e in detail["timeline"]][-1] == "accepted the repair"
    assert sum(e["what"] == "asked for rework" for e in detail["timeline"]) == 1


async def test_today_counts_service_requests_waiting_for_approval(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    """A weekly 会务 series is one request the director is asked about once in the chat: one
    on the Today page too, until it is decided."""
    from tests.test_bookings_e2e import bookings, press, request_meeting, texts
    from tests.test_bookings_e2e import school as booking_school

    sandbox, services = cockpit
    s = await booking_school(sandbox, services)
    as_director = await launch_data(services, s.director)
    assert (await fetch(services, "/api/today", as_director))[1]["approvals"]["services"] == []
    await request_meeting(
        sandbox,
        s.teacher,
        title="初三家长会",
        people="120",
        day="11-26",
        hours="14:00-16:00",
        venue="lecture_hall",
        weeks="2",
    )
    filed = await bookings(services)
    assert len(filed) > 1 and len({b.series for b in filed}) == 1  # one weekly request
    first = filed[0]
    asked = [t for t in texts(sandbox, s.director.private_chat_id) if "Approval requested" in t]
    status, today = await fetch(services, "/api/today", as_director)
    assert status == 200
    waiting = today["approvals"]["services"]
    assert len(waiting) == len(asked) == 1
    assert waiting == [f"{first.number} 初三家长会"] and first.number in asked[0]
    await press(
        sandbox, s.director, sandbox.last_message(s.director.private_chat_id), f"bk1:ok:{first.id}"
    )
    assert (await fetch(services, "/api/today", as_director))[1]["approvals"]["services"] == []


async def fetch_bytes(
    services: Services, path: str, init_data: str | None
) -> tuple[int, bytes, dict[str, str]]:
    headers = {} if init_data is None else {"Authorization": f"tma {init_data}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(local(services) + path, headers=headers) as response,
    ):
        return response.status, await response.read(), dict(response.headers)


async def test_a_tickets_photo_is_served_to_those_who_may_see_the_ticket(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    image = tiny_png()
    number = await report_with_photo(sandbox, school.teacher, image)
    async with services.database.reading() as session:
        found = await tickets.get_by_number(session, number)
    assert found is not None
    as_teacher = await launch_data(services, school.teacher)
    status, detail = await fetch(services, f"/api/ticket/{found.id}", as_teacher)
    assert status == 200 and detail["photos"] == 1
    photo = f"/api/ticket/{found.id}/photo/0"
    # The reporter and the crew get the very bytes the reporter sent, kept privately only.
    status, body, headers = await fetch_bytes(services, photo, as_teacher)
    assert status == 200 and body == image
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"].startswith("private")
    as_electrician = await launch_data(services, school.electrician)
    assert (await fetch_bytes(services, photo, as_electrician))[1] == image
    # Another teacher: 403 and no bytes; no launch data: 401; no such photo: 404.
    other = await register(sandbox, services, "刘洋", Role.TEACHER)
    status, body, _headers = await fetch_bytes(services, photo, await launch_data(services, other))
    assert status == 403 and image not in body
    assert (await fetch_bytes(services, photo, None))[0] == 401
    for missing in ("1", "-1", "x"):
        path = f"/api/ticket/{found.id}/photo/{missing}"
        assert (await fetch_bytes(services, path, as_teacher))[0] == 404


async def test_the_month_chart_is_the_directors(
    cockpit: tuple[BotApiSandbox, Services], clock: ManualClock
) -> None:
    sandbox, services = cockpit
    school = await seed(sandbox, services, clock)
    as_director = await launch_data(services, school.director)
    status, body, headers = await fetch_bytes(services, "/api/month/chart", as_director)
    assert status == 200 and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert headers["Content-Type"] == "image/png"
    assert headers["Cache-Control"].startswith("private")
    as_electrician = await launch_data(services, school.electrician)
    status, body, _headers = await fetch_bytes(services, "/api/month/chart", as_electrician)
    assert status == 403 and not body.startswith(b"\x89PNG")
    as_teacher = await launch_data(services, school.teacher)
    assert (await fetch_bytes(services, "/api/month/chart", as_teacher))[0] == 403
    assert (await fetch_bytes(services, "/api/month/chart", None))[0] == 401
