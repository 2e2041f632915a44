"""hashed registration and sign-in signals, proposed account links

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_account_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("first_event", sa.String(length=10), nullable=False),
        sa.Column("seen_count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_moderation_account_signals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_account_signals")),
        sa.UniqueConstraint(
            "user_id", "kind", "digest", name="uq_moderation_account_signals_key"
        ),
    )
    with op.batch_alter_table("moderation_account_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_moderation_account_signals_digest", ["digest", "kind"], unique=False
        )
        batch_op.create_index(
            "ix_moderation_account_signals_last_seen_at", ["last_seen_at"], unique=False
        )

    op.create_table(
        "moderation_link_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("other_user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("strength", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("rejected_strength", sa.String(length=10), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_moderation_link_proposals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_user_id"],
            ["users.id"],
            name=op.f("fk_moderation_link_proposals_other_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_moderation_link_proposals_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_link_proposals")),
        sa.UniqueConstraint("user_id", "other_user_id", name="uq_moderation_link_proposals_pair"),
    )
    with op.batch_alter_table("moderation_link_proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_moderation_link_proposals_status_id", ["status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_moderation_link_proposals_other_user_id", ["other_user_id"], unique=False
        )

    with op.batch_alter_table("moderation_actions") as batch:
        batch.add_column(
            sa.Column("aggravating", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("moderation_actions") as batch:
        batch.drop_column("aggravating")
    op.drop_table("moderation_link_proposals")
    op.drop_table("moderation_account_signals")
