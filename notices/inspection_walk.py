"""What the inspection walk (检查) shows the inspector: the next item with its buttons, the
异常's questions (note, photo, place), what a mark did, the end of the walk, and why a press
was refused. The walk's button data and its start are in notices.inspections.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from telegram import InlineKeyboardMarkup

from notices.inspections import (
    NO_KEY,
    Translate,
    WalkAction,
    WalkButton,
    item_line,
    problem_line,
    short_day,
    when,
)
from notices.render import button, esc, keyboard
from notices.services import Services
from school.i18n import N_
from school.profile import InspectionItem
from storage import inspection_results as results
from storage import inspections as store
from storage.models import InspectionRound, Person


def walk_item(
    services: Services,
    round_: InspectionRound,
    walk: store.Progress,
    item: InspectionItem,
    previous: results.Problem | None,
    t_: Translate,
    done_note: str | None = None,
    problems: Sequence[results.Problem] = (),
) -> tuple[str, InlineKeyboardMarkup]:
    """The walk's next item with 正常 / 异常 / 本区域全部正常 / 暂停, and the 异常 found so
    far with their ticket numbers (HTML)."""
    assert round_.id is not None
    lines = []
    if done_note:
        lines += [done_note, ""]
    lines += [
        t_("🔍 <b>{plan}</b> · item {index}/{total} ({done} done)").format(
            plan=esc(store.plan_name(services.profile, round_)),
            index=walk.items.index(item) + 1,
            total=walk.total,
            done=walk.done,
        ),
        f"<b>{esc(item.area)}</b>",
        item_line(item),
    ]
    plan = store.plan_of(services.profile, round_)
    if plan is not None:
        places = "、".join(esc(b.name) for b in services.profile.plan_places(plan))
        lines.append(t_("Where: {places}").format(places=places))
    if services.now() > round_.deadline_at:
        lines.append(late_until(services, round_, t_))
    if previous is not None:
        lines.append(t_("⚠️ Last round: {problem}").format(problem=problem_line(previous, t_)))
    lines += problems_so_far(problems, t_)
    rid = round_.id
    rows = [
        [
            button(t_("✅ Normal"), WalkButton(WalkAction.OK, rid, item.key)),
            button(t_("❌ Problem"), WalkButton(WalkAction.BAD, rid, item.key)),
        ]
    ]
    if len(walk.unmarked_in_area(item.area)) > 1:
        rows.append(
            [button(t_("✅ All normal in this area"), WalkButton(WalkAction.AREA, rid, item.key))]
        )
    rows.append([button(t_("⏸ Pause"), WalkButton(WalkAction.PAUSE, rid))])
    return "\n".join(lines), keyboard(rows)


def walk_finished(
    services: Services,
    round_: InspectionRound,
    walk: store.Progress,
    t_: Translate,
    done_note: str | None = None,
    problems: Sequence[results.Problem] = (),
) -> str:
    """The end of the walk: every item is marked; the 异常 with their tickets (HTML)."""
    ok = sum(1 for m in walk.marks.values() if m.ok)
    text = t_("✅ <b>{plan}</b>: all {total} items checked, {ok} normal, {bad} with problems. "
              "The result has been announced. Thank you!").format(
        plan=esc(store.plan_name(services.profile, round_)),
        total=walk.total,
        ok=ok,
        bad=walk.done - ok,
    )  # fmt: skip
    text = "\n".join([text, *problems_so_far(problems, t_)])
    return f"{done_note}\n\n{text}" if done_note else text


def problems_so_far(problems: Sequence[results.Problem], t_: Translate) -> list[str]:
    """The round's 异常 so far, each with its repair ticket's number: lines that stay in view
    while the walk moves on (HTML; none without a problem)."""
    if not problems:
        return []
    lines = ["", t_("<b>Problems found in this round</b>")]
    for p in problems:
        item = item_line(p.item) if p.item is not None else esc(p.mark.item_key)
        number = esc(p.ticket.number) if p.ticket is not None else "—"
        lines.append(t_("• {item} · repair ticket {number}").format(item=item, number=number))
    return lines


def recheck(problems: Sequence[results.Problem], t_: Translate) -> str:
    """复查: the last round's problems, shown when an inspector starts (HTML)."""
    lines = [t_("🔁 <b>Re-check</b>: problems found in the last round")]
    lines += [f"• {problem_line(p, t_)}" for p in problems]
    return "\n".join(lines)


def paused(walk: store.Progress, t_: Translate) -> str:
    """暂停: where the walk stands."""
    return t_("⏸ Paused at {done}/{total}. Your progress is saved; continue any time.").format(
        done=walk.done, total=walk.total
    )


def marked_ok(item: InspectionItem, t_: Translate) -> str:
    """One item marked 正常."""
    return t_("✅ {item}: normal").format(item=item_line(item))


def area_marked_ok(area: str, count: int, t_: Translate) -> str:
    """本区域全部正常: how many items were marked."""
    return t_("✅ {area}: {count} items marked normal.").format(area=esc(area), count=count)


def _by_me(by: Person | None, me: Person | None) -> bool:
    return by is not None and me is not None and by.id == me.id


def already_marked(
    item: InspectionItem, by: Person | None, t_: Translate, me: Person | None = None
) -> str:
    """The item was marked before: by the presser (a double tap, an old button) or by
    somebody else, who is named."""
    if _by_me(by, me):
        return t_("ℹ️ {item}: you already marked this item").format(item=item_line(item))
    return t_("ℹ️ {item}: already marked by {name}").format(
        item=item_line(item), name=esc(by.name if by else "?")
    )


def already_marked_answer(by: Person | None, me: Person, t_: Translate) -> str:
    """The short answer to a press on an item marked before."""
    if _by_me(by, me):
        return t_("You already marked this item.")
    if by is None:
        return t_("Somebody marked it already.")
    return t_("{name} marked this item already.").format(name=by.name)


def problem_recorded(item: InspectionItem, ticket_number: str | None, t_: Translate) -> str:
    """An 异常 saved with its repair ticket."""
    return t_("❌ {item}: problem recorded, repair ticket {number} (to be fixed).").format(
        item=item_line(item), number=esc(ticket_number) if ticket_number else "—"
    )


def ask_note(item: InspectionItem, t_: Translate) -> str:
    """异常: what is wrong?"""
    return t_(
        "❌ {item}\n\nWhat is wrong? Describe the problem in a few words (/cancel to go back)."
    ).format(item=item_line(item))


def ask_photo(round_id: int, t_: Translate) -> tuple[str, InlineKeyboardMarkup]:
    """异常: a photo, or skip."""
    skip = WalkButton(WalkAction.SKIP, round_id)
    return t_("Send a photo of the problem, or skip."), keyboard(
        [[button(t_("Skip the photo"), skip)]]
    )


def ask_place(
    services: Services, round_: InspectionRound, t_: Translate
) -> tuple[str, InlineKeyboardMarkup]:
    """异常: the exact place, typed or one of the plan's buildings."""
    assert round_.id is not None
    plan = store.plan_of(services.profile, round_)
    buildings = services.profile.plan_places(plan) if plan is not None else []
    rid = round_.id
    buttons = [button(b.name, WalkButton(WalkAction.PLACE, rid, b.key)) for b in buildings]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([button(t_("No exact place"), WalkButton(WalkAction.PLACE, rid, NO_KEY))])
    text = t_("Where exactly? Type the place (e.g. 教学楼2楼男厕) or pick the building.")
    return text, keyboard(rows)


REFUSALS = {
    "no_round": N_("This inspection round no longer exists."),
    "not_inspector": N_("You are not an inspector of this round."),
    "completed": N_("This round is already completed."),
    "too_late": N_("This round is closed: the time for late marks is over."),
    "no_item": N_("This item is no longer on the checklist."),
    "marked": N_("This item is already marked."),
}


def refused(why: str, t_: Translate) -> str:
    """Why a press of the walk was refused (a key of REFUSALS)."""
    return t_(REFUSALS[why])


ANSWER_LIMIT = 200  # characters of a callback query's answer


def late_until(services: Services, round_: InspectionRound, t_: Translate) -> str:
    """Past the deadline: marks count as late, and until when they are taken."""
    return t_(
        "⏰ The deadline has passed: marks made now count as late. "
        "Late marks are taken until {until}."
    ).format(until=when(services, store.marks_until(services.profile, round_)))


def round_over(
    services: Services, s: results.RoundSummary, t_: Translate, *, mine: bool, until: datetime
) -> str:
    """An old 开始检查 / 继续检查 (or item button) of a round that takes no more marks (`mine`:
    the presser marked some of it; `until`: when late marks ended): why, and its result
    (plain text, short enough for a button's answer)."""
    r = s.round
    what = {"plan": s.plan_name, "day": short_day(services, r.occurrence)}
    if r.completed_at is None:
        text = t_("{plan} {day} is closed: late marks were taken until {until}.").format(
            until=when(services, until), **what
        )
    elif mine:
        text = t_("You already finished this round: {plan} {day}.").format(**what)
    else:
        text = t_("{plan} {day} was completed by {names} at {time}.").format(
            names="、".join(p.name for p in s.markers.values()) or "—",
            time=when(services, r.completed_at),
            **what,
        )
    result = t_("{checked}/{total} checked, {ok} normal, {bad} with problems.").format(
        checked=s.checked, total=len(s.items), ok=s.ok_count, bad=len(s.problems)
    )
    return f"{text}\n{result}"[:ANSWER_LIMIT]
