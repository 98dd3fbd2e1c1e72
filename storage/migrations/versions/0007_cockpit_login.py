"""the cockpit's one-time login links (/cockpit pc)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cockpit_login",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("used_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("cockpit_login", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cockpit_login_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cockpit_login", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cockpit_login_person_id"))
    op.drop_table("cockpit_login")
