"""moderation audit append-only: the database refuses to change or delete audit rows

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 02:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one change allowed: a deleted account's id becomes NULL (the ON DELETE SET NULL of
# actor_id); every other column must stay as written.
POSTGRES_FUNCTION = """
CREATE FUNCTION moderation_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
       AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'moderation_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER moderation_audit_append_only BEFORE UPDATE OR DELETE ON moderation_audit
FOR EACH ROW EXECUTE FUNCTION moderation_audit_append_only()
"""
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER moderation_audit_no_delete BEFORE DELETE ON moderation_audit
    BEGIN SELECT RAISE(ABORT, 'moderation_audit is append-only'); END
    """,
    """
    CREATE TRIGGER moderation_audit_no_update BEFORE UPDATE ON moderation_audit
    WHEN NOT (
        NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
        AND NEW.id IS OLD.id AND NEW.action IS OLD.action
        AND NEW.target_type IS OLD.target_type AND NEW.target_id IS OLD.target_id
        AND NEW.reason IS OLD.reason AND NEW."before" IS OLD."before"
        AND NEW."after" IS OLD."after" AND NEW.created_at IS OLD.created_at
    )
    BEGIN SELECT RAISE(ABORT, 'moderation_audit is append-only'); END
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
        op.execute("DROP TRIGGER moderation_audit_append_only ON moderation_audit")
        op.execute("DROP FUNCTION moderation_audit_append_only()")
    else:
        op.execute("DROP TRIGGER moderation_audit_no_delete")
        op.execute("DROP TRIGGER moderation_audit_no_update")
