"""Materials, hours and cost of repair jobs (维修材料与费用): the lines a worker gives on 维修完成
(from the profile's catalogue, or typed with their cost: "水管 2米 30元"), kept exactly as
Decimals, and reading them back.

Nothing here knows Telegram; the lines are written in the completion's transaction
(storage.ticket_moves).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from school.places import normalize
from school.profile import SchoolProfile
from school.profile_sections import Material
from storage.models import Person, Ticket, TicketMaterial
from storage.types import CENT

MAX_QUANTITY = Decimal(10_000)
MAX_COST = Decimal(1_000_000)
MAX_HOURS = Decimal(24)
MAX_LINES = 20
MAX_NAME = 64


@dataclass(frozen=True)
class MaterialLine:
    """One material used: from the catalogue (`key`) or typed; cost = quantity × unit price."""

    name: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    cost: Decimal
    key: str | None = None

    @classmethod
    def of(cls, material: Material, quantity: Decimal) -> MaterialLine:
        """`quantity` of a catalogue material at its unit price."""
        price = Decimal(material.price).quantize(CENT)
        cost = (price * quantity).quantize(CENT)
        return cls(material.name, quantity, material.unit, price, cost, material.key)

    def as_dict(self) -> dict[str, str | None]:
        """The line as JSON-able text (a form's draft keeps it)."""
        return {
            "name": self.name,
            "quantity": str(self.quantity),
            "unit": self.unit,
            "unit_price": str(self.unit_price),
            "cost": str(self.cost),
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> MaterialLine:
        """The line a draft kept (see as_dict)."""
        return cls(
            name=str(data["name"]),
            quantity=Decimal(str(data["quantity"])),
            unit=str(data.get("unit") or ""),
            unit_price=Decimal(str(data["unit_price"])),
            cost=Decimal(str(data["cost"])),
            key=data.get("key"),
        )


def total(lines: Iterable[MaterialLine | TicketMaterial]) -> Decimal:
    """The cost of the lines, in 元."""
    return sum((line.cost for line in lines), Decimal(0)).quantize(CENT)


def amount(text: str, *, limit: Decimal) -> Decimal | None:
    """A positive amount with at most two decimals, up to `limit` ("2", "1.5"), or None."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > limit or value != value.quantize(CENT):
        return None
    return value.quantize(CENT)


_NUMBER = r"(\d+(?:\.\d{1,2})?)"
# "30元", "30块", "￥30", "¥30", "30rmb": the cost of the whole line
_COST = re.compile(
    rf"(?:[￥¥]\s*{_NUMBER})|(?:{_NUMBER}\s*(?:元|块钱|块|rmb|RMB|yuan))", re.IGNORECASE
)
# "2米", "3个", "1.5 m", "×2", "x2": the quantity and its unit
_QUANTITY = re.compile(rf"(?:[x×*]\s*{_NUMBER})|(?:{_NUMBER}\s*([^\d\s.,，。元]{{0,3}}))")
_HOURS = re.compile(rf"^\s*{_NUMBER}\s*(h|小时|个小时|钟头|hours?)?\s*$", re.IGNORECASE)
_MINUTES = re.compile(r"^\s*(\d{1,4})\s*(分钟|分|min|mins|minutes?)\s*$", re.IGNORECASE)


def catalogue_match(profile: SchoolProfile, name: str) -> Material | None:
    """The catalogue material this name is (水龙头 = 水龙头), or None."""
    wanted = normalize(name)
    for material in profile.repair.materials:
        if normalize(material.name) == wanted:
            return material
    return None


def parse_line(profile: SchoolProfile, text: str) -> MaterialLine | None:
    """A typed material line: "水管 2米 30元" (name, quantity and unit, cost of the line), or a
    catalogue material with its quantity ("水龙头 2": the catalogue's price). None when the
    text names no material, or names one not in the catalogue without a cost."""
    text = text.strip()
    if re.search(r"[-−]\s*\d", text):
        return None  # a negative amount
    cost_match = _COST.search(text)
    rest = text
    cost: Decimal | None = None
    if cost_match is not None:
        raw = cost_match.group(1) or cost_match.group(2)
        cost = amount(raw, limit=MAX_COST)
        if cost is None:
            return None
        rest = text[: cost_match.start()] + " " + text[cost_match.end() :]
    quantity, unit = Decimal(1), ""
    found = list(_QUANTITY.finditer(rest))
    quantity_match = found[-1] if found else None  # the last number: 电线(2.5平方) 10米
    if quantity_match is not None:
        raw = quantity_match.group(1) or quantity_match.group(2)
        parsed = amount(raw, limit=MAX_QUANTITY)
        if parsed is None:
            return None
        quantity, unit = parsed, (quantity_match.group(3) or "").strip()
        rest = rest[: quantity_match.start()] + " " + rest[quantity_match.end() :]
    name = re.sub(r"\s+", " ", rest).strip(" ,，、;；:：")[:MAX_NAME]
    if not name:
        return None
    material = catalogue_match(profile, name)
    if cost is None:
        if material is None:
            return None
        return MaterialLine.of(material, quantity)
    if material is not None and not unit:
        unit = material.unit
    unit_price = (cost / quantity).quantize(CENT)
    key = material.key if material is not None else None
    return MaterialLine(name, quantity, unit[:16], unit_price, cost, key)


def parse_hours(text: str) -> Decimal | None:
    """Hours worked: "1.5", "2小时", "2h", "90分钟"; None unless 0 < hours ≤ 24."""
    minutes = _MINUTES.match(text)
    if minutes is not None:
        value = (Decimal(minutes.group(1)) / 60).quantize(CENT)
        return value if 0 < value <= MAX_HOURS else None
    hours = _HOURS.match(text)
    if hours is None:
        return None
    return amount(hours.group(1), limit=MAX_HOURS)


def quantity_text(quantity: Decimal) -> str:
    """2, 1.5 (no trailing zeros)."""
    text = f"{quantity.normalize():f}"
    return text


def money_text(value: Decimal) -> str:
    """¥70.00"""
    return f"¥{value.quantize(CENT):,.2f}"


def line_text(line: MaterialLine | TicketMaterial) -> str:
    """'水龙头 ×2个 ¥70.00'"""
    return f"{line.name} ×{quantity_text(line.quantity)}{line.unit} {money_text(line.cost)}"


# --- stored ------------------------------------------------------------------------------------


def keep_lines(
    session: AsyncSession,
    ticket_id: int,
    lines: Sequence[MaterialLine],
    *,
    event_id: int | None,
    person_id: int | None,
    now: datetime,
) -> None:
    """Add a completion's material lines (in the caller's transaction)."""
    for line in lines[:MAX_LINES]:
        session.add(
            TicketMaterial(
                ticket_id=ticket_id,
                event_id=event_id,
                material_key=line.key,
                name=line.name[:MAX_NAME],
                quantity=line.quantity,
                unit=line.unit[:16],
                unit_price=line.unit_price,
                cost=line.cost,
                added_by_id=person_id,
                added_at=now,
            )
        )


async def lines_of(session: AsyncSession, ticket_id: int) -> list[TicketMaterial]:
    """A ticket's material lines, in the order given."""
    query = select(TicketMaterial).where(TicketMaterial.ticket_id == ticket_id)
    return list((await session.exec(query.order_by(col(TicketMaterial.id)))).all())


async def lines_of_tickets(
    session: AsyncSession, ticket_ids: Sequence[int]
) -> dict[int, list[TicketMaterial]]:
    """The material lines of many tickets in one query, by ticket id."""
    found: dict[int, list[TicketMaterial]] = defaultdict(list)
    if not ticket_ids:
        return found
    query = select(TicketMaterial).where(col(TicketMaterial.ticket_id).in_(list(ticket_ids)))
    for line in (await session.exec(query.order_by(col(TicketMaterial.id)))).all():
        found[line.ticket_id].append(line)
    return found


async def tickets_reported(session: AsyncSession, start: datetime, end: datetime) -> list[Ticket]:
    """The tickets reported in [start, end), oldest first."""
    query = select(Ticket).where(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
    return list((await session.exec(query.order_by(col(Ticket.created_at), col(Ticket.id)))).all())


async def names_of(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    """People's names by id, in one query."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await session.exec(select(Person.id, Person.name).where(col(Person.id).in_(wanted)))
    return {person_id: name for person_id, name in rows.all() if person_id is not None}
