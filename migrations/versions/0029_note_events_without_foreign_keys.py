"""note_events without foreign keys: the event log's per-row checks were most of a flush

Each impression row written by the flush's COPY fired two referential checks (its note and
its user), about 60% of the flush's database time. Notes and accounts are never deleted
outright (notes are soft-deleted), so the cascades never ran; readers take an event's note
through `notes` (or the feature cache) and skip ids they do not find.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_note_events_note_id_notes", type_="foreignkey")
        batch_op.drop_constraint("fk_note_events_user_id_users", type_="foreignkey")


def downgrade() -> None:
    # Events whose note or user no longer exists would fail the constraint: they go first.
    op.execute("DELETE FROM note_events WHERE note_id NOT IN (SELECT id FROM notes)")
    op.execute(
        "DELETE FROM note_events WHERE user_id IS NOT NULL "
        "AND user_id NOT IN (SELECT id FROM users)"
    )
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_note_events_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            "fk_note_events_note_id_notes", "notes", ["note_id"], ["id"], ondelete="CASCADE"
        )
