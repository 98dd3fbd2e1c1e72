"""The callback-data codec: every button's data is built and read in one place."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notices.callbacks import MAX_INT, CallbackData, Expired, Malformed, decode, known_prefixes


class Move(enum.StrEnum):
    TAKE = "take"
    DONE = "done"


@dataclass(frozen=True)
class SampleButton(CallbackData, prefix="zzs", version=2):
    move: Move
    record_id: int
    day: date
    flag: bool
    note: str


@given(
    move=st.sampled_from(Move),
    record_id=st.integers(min_value=0, max_value=MAX_INT),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 31)),
    flag=st.booleans(),
    note=st.text(alphabet="abcxyz0189_-", max_size=10),
)
def test_what_is_encoded_decodes_to_the_same_button(
    move: Move, record_id: int, day: date, flag: bool, note: str
) -> None:
    button = SampleButton(move, record_id, day, flag, note)
    data = button.encode()
    assert len(data.encode()) <= 64
    assert decode(data) == button
    assert SampleButton.parse(data) == button


def test_data_over_64_bytes_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        SampleButton(Move.TAKE, 1, date(2026, 11, 30), True, "x" * 60).encode()


def test_a_value_that_would_break_the_format_is_refused_when_built() -> None:
    with pytest.raises(ValueError):
        SampleButton(Move.TAKE, 1, date(2026, 11, 30), True, "a:b").encode()
    with pytest.raises(ValueError):
        SampleButton(Move.TAKE, -1, date(2026, 11, 30), True, "").encode()


def test_an_older_format_or_version_is_expired_not_misread() -> None:
    assert isinstance(decode("zzs:take:42"), Expired)  # before versions existed
    assert isinstance(decode("zzs1:take:42:20261130:1:x"), Expired)  # version 1
    assert SampleButton.parse("zzs:take:42") is None


@pytest.mark.parametrize(
    "data",
    [
        "zzs2:take:42",  # too few fields
        "zzs2:steal:42:20261130:1:x",  # unknown action
        "zzs2:take:99999999999999999999999999:20261130:1:x",  # 26 digits
        "zzs2:take:-4:20261130:1:x",
        "zzs2:take:4:20261340:1:x",  # no such date
        "zzs2:take:4:20261130:2:x",
        "nosuch1:1",
        "",
        "::",
        "ZZS2:take:4:20261130:1:x",
    ],
)
def test_forged_or_tampered_data_is_malformed(data: str) -> None:
    assert isinstance(decode(data), Malformed)
    assert SampleButton.parse(data) is None


def test_every_product_button_kind_has_its_own_short_prefix() -> None:
    import bot.app  # noqa: F401  (imports every feature, so every kind registers)

    kinds = known_prefixes()
    assert all(1 <= len(prefix) <= 6 for prefix in kinds)
    assert len(set(kinds.values())) == len(kinds)
