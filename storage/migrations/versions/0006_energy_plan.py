"""saving water and power (meter readings, alerts, monthly reports) and the semester plan

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AWARE = storage.types.AwareDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meter_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_key", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("confirmed", sa.String(length=16), nullable=True),
        sa.Column("read_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meter_key", "day"),
    )
    with op.batch_alter_table("meter_reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_reading_meter_key"), ["meter_key"], unique=False)
    op.create_table(
        "energy_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_key", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("change", sa.Float(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meter_key", "period_end", "kind"),
    )
    op.create_table(
        "energy_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("chart", sa.String(length=8), nullable=False),
        sa.Column("created_at", AWARE, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )
    op.create_table(
        "plan_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("semester", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("owner_post", sa.String(length=32), nullable=True),
        sa.Column("owner_label", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("reported_at", AWARE, nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("overdue_flagged_at", AWARE, nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("semester", "title"),
    )
    op.create_table(
        "plan_milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["plan_item.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_milestone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_milestone_item_id"), ["item_id"], unique=False)
    op.create_table(
        "plan_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_file_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", AWARE, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["plan_item.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_progress_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    for index, table in (
        ("ix_plan_progress_item_id", "plan_progress"),
        ("ix_plan_milestone_item_id", "plan_milestone"),
        ("ix_meter_reading_meter_key", "meter_reading"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(index))
    for table in (
        "plan_progress",
        "plan_milestone",
        "plan_item",
        "energy_report",
        "energy_alert",
        "meter_reading",
    ):
        op.drop_table(table)
