"""QR stickers per place (扫码报修): an opaque token for a place or a piece of equipment

Revision ID: 0004_stickers
Revises: 0003
Create Date: 2026-11-30 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004_stickers"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_sticker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("building_key", sa.String(length=32), nullable=False),
        sa.Column("floor", sa.String(length=32), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("equipment", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("place_sticker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_place_sticker_token"), ["token"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_place_sticker_building_key"), ["building_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("place_sticker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_place_sticker_building_key"))
        batch_op.drop_index(batch_op.f("ix_place_sticker_token"))
    op.drop_table("place_sticker")
