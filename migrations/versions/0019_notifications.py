"""notifications: grouping, settings, the push outbox

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.Column("actor_count", sa.Integer(), nullable=False),
        sa.Column("latest_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("latest_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_notification_groups_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["notes.id"],
            name=op.f("fk_notification_groups_note_id_notes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_notification_groups_recipient_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_groups")),
        sa.UniqueConstraint("open_key", name=op.f("uq_notification_groups_open_key")),
    )
    op.create_index(
        "ix_notification_groups_recipient_id_latest",
        "notification_groups",
        ["recipient_id", "latest_id"],
    )
    op.create_index(
        "ix_notification_groups_recipient_id_read_at",
        "notification_groups",
        ["recipient_id", "read_at"],
    )
    op.create_table(
        "notification_group_actors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_notification_group_actors_actor_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["notification_groups.id"],
            name=op.f("fk_notification_group_actors_group_id_notification_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_group_actors")),
        sa.UniqueConstraint(
            "group_id", "actor_id", name=op.f("uq_notification_group_actors_group_id")
        ),
    )
    op.create_index(
        op.f("ix_notification_group_actors_group_id"),
        "notification_group_actors",
        ["group_id"],
    )
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("muted_types", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["notification_groups.id"],
            name=op.f("fk_push_outbox_group_id_notification_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_push_outbox_recipient_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outbox")),
    )
    op.create_index(
        "ix_push_outbox_recipient_id_state", "push_outbox", ["recipient_id", "state"]
    )
    op.create_table(
        "push_daily_counts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_push_daily_counts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_push_daily_counts")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_group_id_notification_groups"),
            "notification_groups",
            ["group_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_notifications_group_id"), ["group_id"])

    # Earlier notifications: each one its own group (same id), read or not as it was.
    op.execute(
        """
        INSERT INTO notification_groups (id, recipient_id, kind, target_type, target_id,
            open_key, actor_count, latest_id, note_id, comment_id, payload, latest_at,
            read_at, created_at)
        SELECT id, recipient_id, kind,
            CASE WHEN kind = 'follow' THEN 'user'
                 WHEN comment_id IS NOT NULL AND kind <> 'collect' AND kind <> 'like'
                     THEN 'comment'
                 WHEN note_id IS NOT NULL THEN 'note'
                 ELSE 'notice' END,
            CASE WHEN kind = 'follow' THEN recipient_id
                 WHEN comment_id IS NOT NULL AND kind <> 'collect' AND kind <> 'like'
                     THEN comment_id
                 WHEN note_id IS NOT NULL THEN note_id
                 ELSE id END,
            NULL, CASE WHEN actor_id IS NULL THEN 0 ELSE 1 END, id, note_id, comment_id,
            payload, created_at, read_at, created_at
        FROM notifications
        """
    )
    op.execute(
        """
        INSERT INTO notification_group_actors (group_id, actor_id, created_at)
        SELECT id, actor_id, created_at FROM notifications WHERE actor_id IS NOT NULL
        """
    )
    op.execute("UPDATE notifications SET group_id = id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('notification_groups', 'id'), "
            "COALESCE((SELECT max(id) FROM notification_groups), 0) + 1, false)"
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_group_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_group_id_notification_groups"), type_="foreignkey"
        )
        batch_op.drop_column("group_id")
    op.drop_table("push_daily_counts")
    op.drop_index("ix_push_outbox_recipient_id_state", table_name="push_outbox")
    op.drop_table("push_outbox")
    op.drop_table("notification_settings")
    op.drop_index(
        op.f("ix_notification_group_actors_group_id"), table_name="notification_group_actors"
    )
    op.drop_table("notification_group_actors")
    op.drop_index("ix_notification_groups_recipient_id_read_at", table_name="notification_groups")
    op.drop_index("ix_notification_groups_recipient_id_latest", table_name="notification_groups")
    op.drop_table("notification_groups")
