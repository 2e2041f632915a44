"""creators: verification requests ("认证加V")

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")
APPROVED = sa.text("status = 'approved'")


def upgrade() -> None:
    op.create_table(
        "creator_verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_creator_verifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_creator_verifications_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["users.id"],
            name=op.f("fk_creator_verifications_revoked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creator_verifications")),
    )
    op.create_index(
        op.f("ix_creator_verifications_user_id"), "creator_verifications", ["user_id"]
    )
    op.create_index(
        "ix_creator_verifications_status_id", "creator_verifications", ["status", "id"]
    )
    # One pending and one approved request per user, whichever process writes them.
    op.create_index(
        "ux_creator_verifications_pending_user",
        "creator_verifications",
        ["user_id"],
        unique=True,
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ux_creator_verifications_approved_user",
        "creator_verifications",
        ["user_id"],
        unique=True,
        postgresql_where=APPROVED,
        sqlite_where=APPROVED,
    )


def downgrade() -> None:
    op.drop_index("ux_creator_verifications_approved_user", table_name="creator_verifications")
    op.drop_index("ux_creator_verifications_pending_user", table_name="creator_verifications")
    op.drop_index("ix_creator_verifications_status_id", table_name="creator_verifications")
    op.drop_index(op.f("ix_creator_verifications_user_id"), table_name="creator_verifications")
    op.drop_table("creator_verifications")
