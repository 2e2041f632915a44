"""index banned users and viewers' histories

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 19:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    banned = sa.text("status = 'banned'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_banned', ['id'], unique=False,
                              postgresql_where=banned, sqlite_where=banned)
    with op.batch_alter_table('note_likes', schema=None) as batch_op:
        batch_op.create_index('ix_note_likes_user_id_created_at', ['user_id', 'created_at'],
                              unique=False)
    with op.batch_alter_table('collects', schema=None) as batch_op:
        batch_op.create_index('ix_collects_user_id_created_at', ['user_id', 'created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('collects', schema=None) as batch_op:
        batch_op.drop_index('ix_collects_user_id_created_at')
    with op.batch_alter_table('note_likes', schema=None) as batch_op:
        batch_op.drop_index('ix_note_likes_user_id_created_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_banned')
