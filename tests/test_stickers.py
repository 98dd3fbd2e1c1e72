"""QR stickers per place (扫码报修): which places get one, tokens issued once and revocable, the
profile's equipment, and the PDF's codes decoded back to the deep links."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp

from notices.services import Services
from notices.stickers import Label, sheets_pdf
from school.profile import SchoolProfile, check_profile, default_profile_path, load_profile
from school.sticker_places import category_for, current_place, label_of, sticker_places
from storage import stickers
from storage.database import Database

NOW = datetime(2026, 11, 23, 9, 0).astimezone()


def decode_links(pdf: bytes) -> list[str]:
    """Every QR code on every page of the PDF, read back with a QR decoder, in page order."""
    document = pdfium.PdfDocument(pdf)
    found: list[str] = []
    try:
        for index in range(len(document)):
            page = document[index]
            image = page.render(scale=2).to_pil()
            codes = [
                c
                for c in zxingcpp.read_barcodes(image)
                if c.format == zxingcpp.BarcodeFormat.QRCode
            ]
            # top to bottom, left to right: the labels' order on the sheet
            codes.sort(key=lambda c: (round(c.position.top_left.y / 100), c.position.top_left.x))
            found += [c.text for c in codes]
            page.close()
    finally:
        document.close()
    return found


def pdf_text(pdf: bytes) -> str:
    """The text layer of the PDF (the labels' words)."""
    document = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(texts)
    finally:
        document.close()


def test_places_cover_rooms_floors_buildings_and_equipment(profile: SchoolProfile) -> None:
    places = sticker_places(profile, building="教学楼")
    labels = [p.label for p in places]
    assert "本部校区 教学楼3楼302" in labels
    # the profile's equipment gets a sticker of its own, right after its room
    at = labels.index("本部校区 教学楼3楼302")
    assert labels[at + 1 : at + 3] == ["本部校区 教学楼3楼302 投影仪", "本部校区 教学楼3楼302 空调"]
    assert len(labels) == len(set(labels))
    # a building without floors is one sticker; a campus narrows to its buildings
    assert [p.label for p in sticker_places(profile, building="配电房")] == ["本部校区 配电房"]
    east = sticker_places(profile, campus="东校区")
    assert east and all(p.label.startswith("东校区 ") for p in east)
    with pytest.raises(KeyError):
        sticker_places(profile, building="图书馆")


def test_category_from_words_then_equipment_then_default(profile: SchoolProfile) -> None:
    assert category_for(profile, "水龙头一直滴水", "投影仪").key == "plumbing"
    assert category_for(profile, "坏了，没反应", "投影仪").key == "av"
    assert category_for(profile, "坏了", "").key == profile.repair.default_category


def test_equipment_must_be_at_a_room_the_building_has(tmp_path: Path) -> None:
    text = default_profile_path().read_text(encoding="utf-8")
    assert text.count('room = "302"') == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('room = "302"', 'room = "3O2"'), encoding="utf-8")
    errors = check_profile(bad, language="en")
    assert any("equipment[0].room" in e and "unknown room '3O2'" in e for e in errors), errors


def test_a_renamed_building_keeps_its_place(tmp_path: Path) -> None:
    text = default_profile_path().read_text(encoding="utf-8")
    renamed = tmp_path / "renamed.toml"
    renamed.write_text(text.replace('name = "教学楼"', 'name = "明德楼"', 1), encoding="utf-8")
    profile = load_profile(renamed)
    # the sticker named building key, floor and room: the place is found under its new name
    assert current_place(profile, "teaching", "3楼", "302") == ("teaching", "3楼", "302")
    assert label_of(profile, "teaching", "3楼", "302", "") == "本部校区 明德楼3楼302"
    # a room the profile no longer has is not found (the sticker's own label is used then)
    assert current_place(profile, "teaching", "3楼", "302室") is None


async def test_tokens_are_issued_once_per_place_and_revocable(
    database: Database, profile: SchoolProfile
) -> None:
    places = sticker_places(profile, building="锅炉房")
    async with database.transaction() as session:
        first = [s.token for s in await stickers.issue(session, places, now=NOW)]
    assert len(set(first)) == len(places)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", t) for t in first)
    async with database.transaction() as session:
        again = [s.token for s in await stickers.issue(session, places, now=NOW)]
        assert again == first  # printing again: the same codes as on the walls
        revoked = await stickers.revoke(session, first[0], now=NOW + timedelta(days=1))
        assert revoked is not None and revoked.revoked_at is not None
        assert await stickers.revoke(session, "qr-nosuchtoken", now=NOW) is None
        third = [s.token for s in await stickers.issue(session, places, now=NOW)]
    assert third[0] != first[0] and third[1:] == first[1:]  # a revoked one is replaced
    async with database.transaction() as session:
        gone = await stickers.revoke_at(session, "boiler", "1楼", "锅炉间", now=NOW)
        assert [s.token for s in gone] == [third[0]]
        found = await stickers.find(session, first[0])
        assert found is not None and found.revoked_at is not None


def test_the_pdf_codes_decode_to_the_links() -> None:
    labels = [
        Label(
            f"本部校区 教学楼3楼30{i} 投影仪", f"https://t.me/houqin_bot?start=qr-test{i:02d}", ""
        )
        for i in range(10)
    ]
    pdf = sheets_pdf("示范中学", labels)
    assert pdf.startswith(b"%PDF")
    assert decode_links(pdf) == [label.link for label in labels]  # 8 on page 1, 2 on page 2
    words = pdf_text(pdf)
    assert "示范中学" in words and "本部校区 教学楼3楼301 投影仪" in words
    assert "扫码报修 / scan to report" in words
    assert sheets_pdf("示范中学", labels) == pdf  # deterministic


async def test_issue_labels_uses_the_bot_username(services: Services) -> None:
    from notices.stickers import issue_labels

    async with services.database.transaction() as session:
        labels = await issue_labels(
            session, services.profile, "houqin_bot", now=NOW, building="锅炉房"
        )
    assert [label.place for label in labels][:1] == ["本部校区 锅炉房1楼锅炉间"]
    assert all(label.link == f"https://t.me/houqin_bot?start={label.token}" for label in labels)
