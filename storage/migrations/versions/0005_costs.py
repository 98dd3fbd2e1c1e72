"""materials, hours and cost of repair jobs; one key per place; repeat-fault flags

Revision ID: 0005_costs
Revises: 0004_stickers
Create Date: 2026-11-30 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import AwareDateTime, Money

revision: str = "0005_costs"
down_revision: str | None = "0004_stickers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("place_key", sa.String(length=240), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("hours", Money(), nullable=True))
        batch_op.create_index(batch_op.f("ix_ticket_place_key"), ["place_key"], unique=False)
    # The place of the tickets filed so far (storage.place_history.place_key, in SQL): the
    # building, floor and room when a room is known, else the label without spaces.
    op.execute(
        "UPDATE ticket SET place_key = CASE"
        " WHEN building_key IS NOT NULL AND room IS NOT NULL"
        " THEN substr(building_key || '/' || coalesce(floor, '') || '/' || room, 1, 240)"
        " ELSE substr('@' || lower(replace(replace(place, ' ', ''), '　', '')), 1, 240) END"
    )
    op.create_table(
        "ticket_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("material_key", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("cost", Money(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["added_by_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["ticket_event.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_ticket_material_ticket_id"), "ticket_material", ["ticket_id"], unique=False
    )
    op.create_table(
        "place_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_key", sa.String(length=240), nullable=False),
        sa.Column("first_ticket_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.Column("flagged_at", AwareDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["first_ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("place_key", "first_ticket_id"),
    )
    op.create_index(op.f("ix_place_flag_place_key"), "place_flag", ["place_key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_place_flag_place_key"), table_name="place_flag")
    op.drop_table("place_flag")
    op.drop_index(op.f("ix_ticket_material_ticket_id"), table_name="ticket_material")
    op.drop_table("ticket_material")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_place_key"))
        batch_op.drop_column("hours")
        batch_op.drop_column("place_key")
