"""applied batches of buffered impressions (exactly-once flush)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "impression_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impression_batches")),
    )
    with op.batch_alter_table("impression_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_impression_batches_applied_at"), ["applied_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("impression_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impression_batches_applied_at"))
    op.drop_table("impression_batches")
