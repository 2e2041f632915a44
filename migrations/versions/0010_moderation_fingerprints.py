"""moderation fingerprints

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 00:57:42.971246
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('moderation_fingerprints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_moderation_fingerprints_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_fingerprints'))
    )
    with op.batch_alter_table('moderation_fingerprints', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_fingerprints_digest_created_at', ['digest', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('moderation_fingerprints', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_fingerprints_digest_created_at')

    op.drop_table('moderation_fingerprints')
