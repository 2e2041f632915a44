"""invites and share attribution: invite codes and who brought each new account in

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "growth_invite_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_growth_invite_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_invite_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_growth_invite_codes_code")),
    )
    with op.batch_alter_table("growth_invite_codes", schema=None) as batch_op:
        batch_op.create_index("ix_growth_invite_codes_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "growth_referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitee_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("invite_code_id", sa.Integer(), nullable=True),
        sa.Column("share_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("referrer_id <> invitee_id", name=op.f("ck_growth_referrals_not_self")),
        sa.ForeignKeyConstraint(
            ["invitee_id"],
            ["users.id"],
            name=op.f("fk_growth_referrals_invitee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"],
            ["users.id"],
            name=op.f("fk_growth_referrals_referrer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invite_code_id"],
            ["growth_invite_codes.id"],
            name=op.f("fk_growth_referrals_invite_code_id_growth_invite_codes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["shares.id"],
            name=op.f("fk_growth_referrals_share_id_shares"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_growth_referrals")),
        sa.UniqueConstraint("invitee_id", name=op.f("uq_growth_referrals_invitee_id")),
    )
    with op.batch_alter_table("growth_referrals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_growth_referrals_referrer_id_id", ["referrer_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_growth_referrals_invite_code_id"), ["invite_code_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("growth_referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_growth_referrals_invite_code_id"))
        batch_op.drop_index("ix_growth_referrals_referrer_id_id")
    op.drop_table("growth_referrals")
    with op.batch_alter_table("growth_invite_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_growth_invite_codes_user_id_id")
    op.drop_table("growth_invite_codes")
