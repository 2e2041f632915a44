"""lifecycle stages, recall campaigns

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_lifecycle",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_stage", sa.String(length=16), nullable=True),
        sa.Column("last_visit_day", sa.Date(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_lifecycle_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_lifecycle")),
    )
    op.create_index("ix_user_lifecycle_stage", "user_lifecycle", ["stage"])
    op.create_table(
        "recall_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("targeted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_recall_campaigns_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_campaigns")),
    )
    op.create_index(
        "ix_recall_campaigns_status_starts_at", "recall_campaigns", ["status", "starts_at"]
    )
    op.create_table(
        "recall_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["recall_campaigns.id"],
            name=op.f("fk_recall_recipients_campaign_id_recall_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recall_recipients_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "user_id", name=op.f("uq_recall_recipients_campaign_id")
        ),
    )
    op.create_index(
        "ix_recall_recipients_campaign_id_status", "recall_recipients", ["campaign_id", "status"]
    )
    op.create_index(op.f("ix_recall_recipients_user_id"), "recall_recipients", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recall_recipients_user_id"), table_name="recall_recipients")
    op.drop_index("ix_recall_recipients_campaign_id_status", table_name="recall_recipients")
    op.drop_table("recall_recipients")
    op.drop_index("ix_recall_campaigns_status_starts_at", table_name="recall_campaigns")
    op.drop_table("recall_campaigns")
    op.drop_index("ix_user_lifecycle_stage", table_name="user_lifecycle")
    op.drop_table("user_lifecycle")
