"""the update inbox of workers sharing one PostgreSQL database (HOUQIN_SCALE_OUT)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "update_inbox",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("person_key", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id"),
    )
    with op.batch_alter_table("update_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_update_inbox_person_key"), ["person_key"])
        batch_op.create_index(batch_op.f("ix_update_inbox_handled_at"), ["handled_at"])


def downgrade() -> None:
    with op.batch_alter_table("update_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_update_inbox_handled_at"))
        batch_op.drop_index(batch_op.f("ix_update_inbox_person_key"))
    op.drop_table("update_inbox")
