"""The places that get a QR sticker (扫码报修): every room of the profile, every floor without
rooms, every building without floors, and every piece of equipment the profile lists; and the
repair category a report from a sticker is filed under.

A place is named by building key, floor and room as the profile has them ("" for none), and
equipment by its name at that place; a sticker's token keeps these as they were when it was
issued (see storage.stickers), so renaming a room in the profile never breaks a printed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from school.places import normalize
from school.profile_model import SchoolProfile
from school.profile_sections import Building, RepairCategory


@dataclass(frozen=True)
class StickerPlace:
    """A place (or equipment at a place) that a sticker names."""

    building: str  # building key
    floor: str = ""
    room: str = ""
    equipment: str = ""
    label: str = ""  # as printed: 本部校区 教学楼3楼302 投影仪

    @property
    def spot(self) -> tuple[str, str, str, str]:
        """What identifies it: building key, floor, room, equipment."""
        return (self.building, self.floor, self.room, self.equipment)


def label_of(profile: SchoolProfile, building: str, floor: str, room: str, equipment: str) -> str:
    """The printed label of a place of the profile: "本部校区 教学楼3楼302 投影仪"."""
    label = profile.place_label(building, floor or None, room or None)
    return f"{label} {equipment}" if equipment else label


def _of_building(profile: SchoolProfile, b: Building) -> Iterator[StickerPlace]:
    def place(floor: str = "", room: str = "", equipment: str = "") -> StickerPlace:
        label = label_of(profile, b.key, floor, room, equipment)
        return StickerPlace(b.key, floor, room, equipment, label)

    listed: dict[tuple[str, str], list[str]] = {}
    for spot in b.equipment:
        listed.setdefault((spot.floor or "", spot.room or ""), []).extend(spot.items)

    def with_equipment(floor: str = "", room: str = "") -> Iterator[StickerPlace]:
        yield place(floor, room)
        for item in listed.get((floor, room), []):
            yield place(floor, room, item)

    if not b.floors:
        yield from with_equipment()
        return
    for floor in b.floors:
        rooms = b.rooms.get(floor, [])
        if not rooms or (floor, "") in listed:
            yield from with_equipment(floor)
        for room in rooms:
            yield from with_equipment(floor, room)


def sticker_places(
    profile: SchoolProfile, *, building: str | None = None, campus: str | None = None
) -> list[StickerPlace]:
    """The places to print, in profile order; `building` and `campus` (a key, name or alias)
    narrow them. KeyError when either names nothing in the profile."""
    wanted_building = None
    if building is not None:
        found = profile.find_building(building)
        if found is None:
            raise KeyError(building)
        wanted_building = found.key
    wanted_campus = None
    if campus is not None:
        wanted = normalize(campus)
        match = [c for c in profile.campuses if wanted in (c.key, normalize(c.name))]
        if not match:
            raise KeyError(campus)
        wanted_campus = match[0].key
    places: list[StickerPlace] = []
    for c, b in profile.buildings():
        if wanted_campus is not None and c.key != wanted_campus:
            continue
        if wanted_building is not None and b.key != wanted_building:
            continue
        places.extend(_of_building(profile, b))
    return places


def current_place(
    profile: SchoolProfile, building: str, floor: str, room: str
) -> tuple[str, str, str] | None:
    """(building, floor, room) as the profile has them now, or None when it no longer has that
    place (a room renamed or removed: an old sticker then files at the label it was printed
    with)."""
    try:
        b = profile.building(building)
    except KeyError:
        return None
    if not floor:
        return (b.key, "", "") if not room else None
    if floor not in b.floors:
        return None
    if room and room not in b.rooms.get(floor, []):
        return None
    return (b.key, floor, room)


def category_for(profile: SchoolProfile, description: str, equipment: str) -> RepairCategory:
    """The category of a report from a sticker: what the description names, else what the
    equipment's name names (投影仪 → 多媒体), else the profile's default category."""
    return (
        (profile.match_category(description) if description else None)
        or (profile.match_category(equipment) if equipment else None)
        or profile.default_category
    )
