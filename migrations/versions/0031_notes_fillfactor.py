"""notes: leave room on each page so counter updates stay on it (HOT updates)

PostgreSQL only (SQLite has no fillfactor). The setting applies to pages written from now on;
rows already stored get the room when the table is rewritten (`VACUUM FULL notes`, or
pg_repack without its lock), which docs/operations.md describes.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 06:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 85  # app.notes.models.NOTES_FILLFACTOR when this was written


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE notes SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE notes RESET (fillfactor)")
