"""points ledger append-only: the database refuses to change or delete ledger entries

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 03:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one change allowed: an admin's account deleted since (the ON DELETE SET NULL of
# actor_id). Corrections are new entries, never edits.
POSTGRES_FUNCTION = """
CREATE FUNCTION points_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'points_ledger is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER points_ledger_append_only BEFORE UPDATE OR DELETE ON points_ledger
FOR EACH ROW EXECUTE FUNCTION points_ledger_append_only()
"""
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
    BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END
    """,
    """
    CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
    WHEN NOT (
        NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
        AND NEW.id IS OLD.id AND NEW.user_id IS OLD.user_id AND NEW.delta IS OLD.delta
        AND NEW.action IS OLD.action AND NEW.reason IS OLD.reason AND NEW."key" IS OLD."key"
        AND NEW.ref_type IS OLD.ref_type AND NEW.ref_id IS OLD.ref_id
        AND NEW.reverses_id IS OLD.reverses_id AND NEW.day IS OLD.day
        AND NEW.created_at IS OLD.created_at
    )
    BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END
    """,
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER points_ledger_append_only ON points_ledger")
        op.execute("DROP FUNCTION points_ledger_append_only()")
    else:
        op.execute("DROP TRIGGER points_ledger_no_delete")
        op.execute("DROP TRIGGER points_ledger_no_update")
