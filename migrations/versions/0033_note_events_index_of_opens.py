"""note_events: the index by user and time holds opens only

Its one reader is a ranking's history of the viewer's opens (`user_signals`), which asks for
`kind = 'open'`. With every impression in the index too, that read walked all the cards the
viewer was served in the window to find their last opens: on the bench database, 6.3 ms of
a ranking's PostgreSQL time for a viewer served 1,440 cards, growing with every page they
scroll. Impressions, the bulk of the table's writes, no longer update it either.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.drop_index("ix_note_events_user_id_created_at")
        batch_op.create_index(
            "ix_note_events_opens",
            ["user_id", "created_at"],
            unique=False,
            postgresql_where=sa.text("kind = 'open'"),
            sqlite_where=sa.text("kind = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_note_events_opens",
            postgresql_where=sa.text("kind = 'open'"),
            sqlite_where=sa.text("kind = 'open'"),
        )
        batch_op.create_index(
            "ix_note_events_user_id_created_at", ["user_id", "created_at"], unique=False
        )
