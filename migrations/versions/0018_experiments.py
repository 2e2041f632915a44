"""feed experiments and their arms; note_events.experiment_arm_id tags experiment traffic

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("status = 'running'")
TAGGED = sa.text("experiment_arm_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("feed", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("traffic_share", sa.Float(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_experiments_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    # At most one running experiment per feed, whichever process starts it.
    op.create_index(
        "ux_experiments_running_feed",
        "experiments",
        ["feed"],
        unique=True,
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_table(
        "experiment_arms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("is_control", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_arms_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_arms")),
        sa.UniqueConstraint(
            "experiment_id", "key", name=op.f("uq_experiment_arms_experiment_id")
        ),
    )
    op.create_index(
        op.f("ix_experiment_arms_experiment_id"), "experiment_arms", ["experiment_id"]
    )
    # A nullable column without a default: no table rewrite on PostgreSQL.
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("experiment_arm_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_note_events_experiment_arm_id_created_at",
        "note_events",
        ["experiment_arm_id", "created_at"],
        postgresql_where=TAGGED,
        sqlite_where=TAGGED,
    )


def downgrade() -> None:
    op.drop_index("ix_note_events_experiment_arm_id_created_at", table_name="note_events")
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.drop_column("experiment_arm_id")
    op.drop_index(op.f("ix_experiment_arms_experiment_id"), table_name="experiment_arms")
    op.drop_table("experiment_arms")
    op.drop_index("ux_experiments_running_feed", table_name="experiments")
    op.drop_table("experiments")
