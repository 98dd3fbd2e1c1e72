"""Checks across the parts of a school profile: keys are unique, references name something
that exists (a post, a repair category, a checklist item, a building), grades are ordered,
调休 days fall on weekends.

The checks also run on a profile whose structure has errors (see
:func:`school.profile_loading.load_profile`): ``unread`` then holds the locations that could
not be read, and nothing at or under them is checked, nor is any reference to a list whose
keys could not all be read (so one mistake gives one error).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

from school.calendar import CalendarSettings
from school.i18n import N_
from school.places import normalize
from school.profile_fields import WEEKDAYS, Loc
from school.profile_messages import Message, quoted
from school.profile_sections import (
    AppraisalSettings,
    Campus,
    InspectionSettings,
    Post,
    RepairSettings,
)


class CheckedProfile(Protocol):
    """What the checks read of a profile (a :class:`school.profile.SchoolProfile`)."""

    @property
    def campuses(self) -> list[Campus]: ...
    @property
    def posts(self) -> list[Post]: ...
    @property
    def repair(self) -> RepairSettings: ...
    @property
    def inspection(self) -> InspectionSettings: ...
    @property
    def appraisal(self) -> AppraisalSettings: ...
    @property
    def calendar(self) -> CalendarSettings: ...


Problem = tuple[Loc, Message]
"""A mistake and where it is."""


def dotted(loc: Iterable[str | int]) -> str:
    """A location as the errors show it: ``posts[0].key``, ``rooms['1 楼']``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_\-\u4e00-\u9fff]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def unknown(value: str, known: Iterable[str], what: Message) -> Message:
    """ "unknown post 'x'; did you mean 'y'?" (or the known names when none is close)."""
    names = sorted(known)
    close = difflib.get_close_matches(value, names, n=1)
    if close:
        hint = Message(N_("; did you mean {suggestion}?"), suggestion=quoted(close[0]))
    else:
        hint = Message(N_(" (known: {names})"), names=", ".join(names))
    return Message(N_("unknown {what} {value}{hint}"), what=what, value=quoted(value), hint=hint)


class _Checker:
    def __init__(self, profile: CheckedProfile, unread: Collection[Loc]) -> None:
        self.p = profile
        self.unread = unread
        self.out: list[Problem] = []

    def readable(self, loc: Loc) -> bool:
        return not any(loc[:i] in self.unread for i in range(1, len(loc) + 1))

    def add(self, loc: Loc, message: Message) -> None:
        self.out.append((loc, message))

    def keyed(self, base: Loc, items: Sequence[Any], field: str = "key") -> list[tuple[Loc, Any]]:
        """(location, value) of ``field`` of each item, for the readable ones."""
        locs = [((*base, i, field), item) for i, item in enumerate(items)]
        return [(loc, getattr(item, field)) for loc, item in locs if self.readable(loc)]

    def complete(self, base: Loc, items: Sequence[Any], field: str = "key") -> bool:
        """True when every item's ``field`` could be read (references can be checked)."""
        return self.readable(base) and all(
            self.readable((*base, i, field)) for i in range(len(items))
        )

    def duplicates(self, values: Iterable[tuple[Loc, str]], what: Message) -> set[str]:
        seen: dict[str, Loc] = {}
        for loc, value in values:
            if value in seen:
                first = dotted(seen[value])
                self.add(
                    loc,
                    Message(
                        N_("duplicate {what} {value} (first at {first})"),
                        what=what,
                        value=quoted(value),
                        first=first,
                    ),
                )
            else:
                seen[value] = loc
        return set(seen)

    def reference(
        self, loc: Loc, value: str, known: set[str], complete: bool, what: Message
    ) -> bool:
        """Report ``value`` unless it is known; True when it is known."""
        if value in known:
            return True
        if complete and self.readable(loc):
            self.add(loc, unknown(value, known, what))
        return False

    def items(self, *path: str) -> list[Any]:
        """The list at ``path`` (e.g. "repair", "categories"), empty when it is unread."""
        if not self.readable(path):
            return []
        value: Any = self.p
        for name in path:
            value = getattr(value, name)
        return list(value)

    # ---- the parts

    def places(self) -> set[str] | None:
        """Check campuses and buildings; the building keys, or None if some are unreadable."""
        self.duplicates(self.keyed(("campuses",), self.items("campuses")), Message(N_("campus")))
        buildings: list[tuple[Loc, Any]] = []
        complete = self.readable(("campuses",))
        for ci, campus in enumerate(self.items("campuses")):
            base: Loc = ("campuses", ci, "buildings")
            if not self.readable(base):
                complete = False
                continue
            complete = complete and self.complete(base, campus.buildings)
            buildings.extend(((*base, bi), b) for bi, b in enumerate(campus.buildings))
        keys = self.duplicates(
            (((*loc, "key"), b.key) for loc, b in buildings if self.readable((*loc, "key"))),
            Message(N_("building key")),
        )
        names: list[tuple[Loc, str]] = []
        for loc, b in buildings:
            if self.readable((*loc, "name")):
                names.append(((*loc, "name"), b.name))
            if self.readable((*loc, "aliases")):
                names.extend(
                    ((*loc, "aliases", j), a)
                    for j, a in enumerate(b.aliases)
                    if self.readable((*loc, "aliases", j))
                )
            self.floors(loc, b)
        self.duplicates(
            ((loc, normalize(n)) for loc, n in names), Message(N_("building name or alias"))
        )
        return keys if complete else None

    def floors(self, loc: Loc, building: Any) -> None:
        floors_ok = self.readable((*loc, "floors"))
        if floors_ok:
            self.duplicates(
                (((*loc, "floors", j), f) for j, f in enumerate(building.floors)),
                Message(N_("floor")),
            )
        if not self.readable((*loc, "rooms")):
            return
        for floor, rooms in building.rooms.items():
            if floors_ok and floor not in building.floors:
                self.add(
                    (*loc, "rooms", floor), unknown(floor, building.floors, Message(N_("floor")))
                )
            self.duplicates(
                (((*loc, "rooms", floor, j), r) for j, r in enumerate(rooms)), Message(N_("room"))
            )
        if floors_ok and self.readable((*loc, "equipment")):
            self.equipment(loc, building)

    def equipment(self, loc: Loc, building: Any) -> None:
        """Equipment is listed at a floor and room the building has."""
        for j, spot in enumerate(building.equipment):
            at: Loc = (*loc, "equipment", j)
            if not self.readable(at):
                continue
            if spot.floor is None:
                if spot.room is not None:
                    self.add((*at, "room"), Message(N_("a room needs its floor")))
                continue
            if spot.floor not in building.floors:
                self.add((*at, "floor"), unknown(spot.floor, building.floors, Message(N_("floor"))))
                continue
            rooms = building.rooms.get(spot.floor, [])
            if spot.room is not None and spot.room not in rooms:
                self.add((*at, "room"), unknown(spot.room, rooms, Message(N_("room"))))
            self.duplicates(
                (((*at, "items", i), item) for i, item in enumerate(spot.items)),
                Message(N_("equipment")),
            )

    def check(self) -> list[Problem]:
        p = self.p
        building_keys = self.places()

        # posts
        posts = self.items("posts")
        post_keys = self.duplicates(self.keyed(("posts",), posts), Message(N_("post")))
        posts_complete = self.complete(("posts",), posts)
        self.duplicates(self.keyed(("posts",), posts, "name"), Message(N_("post name")))
        post_at: dict[str, int] = {}
        for loc, key in self.keyed(("posts",), posts):
            post_at.setdefault(key, int(loc[1]))

        def post_has(loc: Loc, key: str, flag: str, text: str) -> None:
            if not self.reference(loc, key, post_keys, posts_complete, Message(N_("post"))):
                return
            i = post_at[key]
            if self.readable(("posts", i, flag)) and not getattr(posts[i], flag):
                self.add(loc, Message(text, post=quoted(key)))

        # repair
        repair: Loc = ("repair",)
        cats = self.items("repair", "categories")
        cat_base: Loc = ("repair", "categories")
        cat_keys = self.duplicates(self.keyed(cat_base, cats), Message(N_("category")))
        cats_complete = self.readable(repair) and self.complete(cat_base, cats)
        for loc, value in self.keyed(cat_base, cats, "default_post"):
            if value is not None:
                post_has(
                    loc,
                    value,
                    "handles_repairs",
                    N_("post {post} does not have handles_repairs = true"),
                )
        urgencies = self.items("repair", "urgencies")
        urg_base: Loc = ("repair", "urgencies")
        urg_keys = self.duplicates(self.keyed(urg_base, urgencies), Message(N_("urgency")))
        materials = self.items("repair", "materials")
        mat_base: Loc = ("repair", "materials")
        self.duplicates(self.keyed(mat_base, materials), Message(N_("material")))
        self.duplicates(self.keyed(mat_base, materials, "name"), Message(N_("material name")))
        if self.readable(repair):
            self.reference(
                ("repair", "default_urgency"),
                p.repair.default_urgency,
                urg_keys,
                self.complete(urg_base, urgencies),
                Message(N_("urgency")),
            )
            self.reference(
                ("repair", "default_category"),
                p.repair.default_category,
                cat_keys,
                cats_complete,
                Message(N_("category")),
            )

        # inspection
        inspection: Loc = ("inspection",)
        items = self.items("inspection", "items")
        plans = self.items("inspection", "plans")
        item_base: Loc = ("inspection", "items")
        item_keys = self.duplicates(self.keyed(item_base, items), Message(N_("item")))
        items_complete = self.readable(inspection) and self.complete(item_base, items)
        self.duplicates(
            ((loc, str(n)) for loc, n in self.keyed(item_base, items, "number")),
            Message(N_("item number")),
        )
        for loc, category in self.keyed(item_base, items, "category"):
            self.reference(loc, category, cat_keys, cats_complete, Message(N_("repair category")))
        plan_base: Loc = ("inspection", "plans")
        self.duplicates(self.keyed(plan_base, plans), Message(N_("plan")))
        for i, plan in enumerate(plans):
            loc = (*plan_base, i)
            refs: list[tuple[str, list[str] | str, set[str] | None, bool, Message]] = [
                ("items", plan.items, item_keys, items_complete, Message(N_("checklist item"))),
                ("places", plan.places, building_keys, True, Message(N_("building"))),
            ]
            for name, value, known, complete, what in refs:
                if value == "all" or not self.readable((*loc, name)):
                    continue
                for j, k in enumerate(value):
                    self.reference(
                        (*loc, name, j), k, known or set(), complete and known is not None, what
                    )
            if self.readable((*loc, "inspector_posts")):
                for j, k in enumerate(plan.inspector_posts):
                    post_has(
                        (*loc, "inspector_posts", j),
                        k,
                        "inspects",
                        N_("post {post} does not have inspects = true"),
                    )

        self.grades()
        self.calendar()
        return self.out

    def grades(self) -> None:
        base: Loc = ("appraisal", "grades")
        if not self.readable(base):
            return
        grades = self.p.appraisal.grades
        scores = self.keyed(base, grades, "min_score")
        for (_, higher), (loc, lower) in itertools.pairwise(scores):
            if lower >= higher:
                self.add(
                    loc,
                    Message(
                        N_(
                            "grades must be in descending min_score order: "
                            "{lower} is not below {higher}"
                        ),
                        lower=f"{lower:g}",
                        higher=f"{higher:g}",
                    ),
                )
        last: Loc = (*base, len(grades) - 1, "min_score")
        if grades and self.readable(last) and grades[-1].min_score != 0:
            self.add(last, Message(N_("the last grade must start at 0")))
        self.duplicates(self.keyed(base, grades, "name"), Message(N_("grade")))

    def calendar(self) -> None:
        cal = self.p.calendar
        base: Loc = ("calendar",)
        if not self.readable(base) or not self.readable((*base, "makeup_workdays")):
            return
        holidays = []
        if self.readable((*base, "holidays")):
            holidays = [
                h for j, h in enumerate(cal.holidays) if self.readable((*base, "holidays", j))
            ]
        weekend_ok = self.readable((*base, "weekend"))
        workdays = [
            ((*base, "makeup_workdays", i), day) for i, day in enumerate(cal.makeup_workdays)
        ]
        workdays = [(loc, day) for loc, day in workdays if self.readable(loc)]
        for loc, day in workdays:
            if weekend_ok and not cal.is_weekend(day):
                self.add(
                    loc,
                    Message(
                        N_("{day} is a {weekday}, not a weekend day"),
                        day=day,
                        weekday=WEEKDAYS[day.weekday()],
                    ),
                )
            holiday = next((h for h in holidays if day in h), None)
            if holiday is not None:
                self.add(
                    loc,
                    Message(
                        N_("{day} is inside the holiday {holiday}"), day=day, holiday=holiday.name
                    ),
                )
        self.duplicates(((loc, str(day)) for loc, day in workdays), Message(N_("date")))


def cross_check(profile: CheckedProfile, unread: Collection[Loc] = ()) -> list[Problem]:
    """Problems across the profile's parts, skipping what is at or under ``unread``."""
    return _Checker(profile, frozenset(unread)).check()
