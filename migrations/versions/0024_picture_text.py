"""text read in pictures (OCR) and where

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("text_lines", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("text_read_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.drop_column("text_read_at")
        batch.drop_column("text_lines")
        batch.drop_column("text")
