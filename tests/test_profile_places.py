"""Reading places, repair categories and urgencies out of free text (school/places.py), and
finding buildings by name in the default profile."""

from __future__ import annotations

import pytest

from school.profile import SchoolProfile, default_profile


@pytest.fixture(scope="module")
def profile() -> SchoolProfile:
    return default_profile()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("实验楼3楼女厕水龙头一直滴水", "水暖"),
        ("教室灯不亮了", "电/照明"),
        ("走廊应急灯不亮", "消防安全设施"),
        ("投影仪不亮", "多媒体教学设备"),
        ("302门锁坏了，关不上", "门窗锁"),
        ("食堂冷柜不制冷", "食堂设备"),
        ("宿舍床板断了", "桌椅家具"),
        ("办公室空调不制冷", "空调/风扇/暖气"),
        ("教室WiFi连不上，断网了", "网络/弱电"),
        ("屋顶漏雨", "土建"),
        ("操场篮球架松动", "室外/体育/绿化"),
    ],
)
def test_match_category(profile: SchoolProfile, text: str, category: str) -> None:
    found = profile.match_category(text)
    assert found is not None and found.name == category


def test_match_category_none(profile: SchoolProfile) -> None:
    assert profile.match_category("帮忙看一下") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("二楼水管爆裂，水流了一地", "urgent"),
        ("配电箱冒烟了", "urgent"),
        ("电梯困人", "urgent"),
        ("想预约安装一个挂钩", "scheduled"),
        ("教室灯不亮", None),
    ],
)
def test_match_urgency(profile: SchoolProfile, text: str, expected: str | None) -> None:
    found = profile.match_urgency(text)
    assert (found.key if found else None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("实验楼3楼女厕水龙头一直滴水", ("lab", "3楼", "女厕")),
        ("实验室楼三楼301灯不亮", ("lab", "3楼", "301")),
        ("实验楼2层化学实验室通风橱坏了", ("lab", "2楼", "化学实验室")),
        ("实验楼化学实验室通风橱坏了", ("lab", "2楼", "化学实验室")),
        ("实验楼女厕堵了", ("lab", None, None)),
        ("东区教学楼4楼音乐教室", ("east_teaching", "4楼", "音乐教室")),
        ("教学楼5F阶梯教室投影仪", ("teaching", "5楼", "阶梯教室")),
        ("男寝305门坏了", ("dorm_boys", "3楼", "305")),
        ("操场东边的路灯不亮", ("playground", None, None)),
        ("教学楼11楼", ("teaching", None, None)),
    ],
)
def test_match_place(
    profile: SchoolProfile, text: str, expected: tuple[str, str | None, str | None]
) -> None:
    found = profile.match_place(text)
    assert found is not None
    assert (found.building.key, found.floor, found.room) == expected


def test_match_place_none(profile: SchoolProfile) -> None:
    assert profile.match_place("水龙头一直滴水") is None


def test_buildings_and_labels(profile: SchoolProfile) -> None:
    pairs = list(profile.buildings())
    assert {c.key for c, _ in pairs} == {"main", "east"}
    lab = profile.find_building("实验室楼")
    assert lab is not None and lab.key == "lab"
    assert profile.find_building(" 实验楼 ") is lab
    assert profile.find_building("lab") is lab
    assert profile.find_building("图书馆") is None
    assert profile.place_label(lab, "3楼", "女厕") == "本部校区 实验楼3楼女厕"
    assert profile.place_label("lab", "3楼", with_campus=False) == "实验楼3楼"
    assert profile.campus_of("gym").name == "东校区"
    with pytest.raises(KeyError):
        profile.building("nope")
