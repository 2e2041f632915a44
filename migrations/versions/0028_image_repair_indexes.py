"""partial indexes for the outbox sweep's picture repairs (no scan of every picture)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 10:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCESSING = "status = 'processing'"
TEXT_UNREAD = "text_read_at IS NULL AND kind = 'upload' AND status = 'ready'"


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(
            "ix_images_processing",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text(PROCESSING),
            sqlite_where=sa.text(PROCESSING),
        )
        batch_op.create_index(
            "ix_images_text_unread",
            ["id"],
            unique=False,
            postgresql_where=sa.text(TEXT_UNREAD),
            sqlite_where=sa.text(TEXT_UNREAD),
        )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index("ix_images_text_unread")
        batch_op.drop_index("ix_images_processing")
