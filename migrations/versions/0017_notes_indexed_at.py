"""notes.indexed_at: when the search index last took the note in (the outbox sweep re-indexes
notes edited since, past a deadline)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True))
    # Notes that exist were indexed by the jobs of their day (or `flask search-reindex`).
    op.execute("UPDATE notes SET indexed_at = updated_at")


def downgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("indexed_at")
