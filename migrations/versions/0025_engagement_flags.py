"""suspect engagement: flags on likes, collects and follows

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the target column the partial index leads with)
_ROWS = (("note_likes", "note_id"), ("collects", "note_id"), ("user_follows", "followee_id"))


def upgrade() -> None:
    for table, target in _ROWS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("suspect", sa.Boolean(), nullable=False, server_default=sa.false())
            )
        # The detector reads the recent rows; the partial index finds the few suspect ones.
        op.create_index(f"ix_{table}_created_at", table, ["created_at"])
        op.create_index(
            f"ix_{table}_suspect",
            table,
            [target],
            postgresql_where=sa.text("suspect"),
            sqlite_where=sa.text("suspect"),
        )
    op.create_table(
        "moderation_engagement_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("engaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_moderation_engagement_flags_actor_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["moderation_cases.id"],
            name=op.f("fk_moderation_engagement_flags_case_id_moderation_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_engagement_flags")),
        sa.UniqueConstraint(
            "kind", "actor_id", "target_id", name="uq_moderation_engagement_flags_key"
        ),
    )
    op.create_index(
        "ix_moderation_engagement_flags_case_id_status",
        "moderation_engagement_flags",
        ["case_id", "status"],
    )
    op.create_index(
        "ix_moderation_engagement_flags_target",
        "moderation_engagement_flags",
        ["target_type", "target_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_moderation_engagement_flags_target", "moderation_engagement_flags")
    op.drop_index("ix_moderation_engagement_flags_case_id_status", "moderation_engagement_flags")
    op.drop_table("moderation_engagement_flags")
    for table, _target in _ROWS:
        op.drop_index(f"ix_{table}_suspect", table)
        op.drop_index(f"ix_{table}_created_at", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("suspect")
