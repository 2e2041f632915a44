"""editorial picks boosts sources log

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 02:30:48.418761
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('content_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('attribution', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_sources')),
    sa.UniqueConstraint('kind', 'key', name='uq_content_sources_kind_key')
    )
    with op.batch_alter_table('content_sources', schema=None) as batch_op:
        batch_op.create_index('ix_content_sources_kind_target_id', ['kind', 'target_id'], unique=False)

    op.create_table('editorial_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_editorial_log_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editorial_log'))
    )
    with op.batch_alter_table('editorial_log', schema=None) as batch_op:
        batch_op.create_index('ix_editorial_log_created_at', ['created_at'], unique=False)

    op.create_table('editor_boosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_editor_boosts_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], name=op.f('fk_editor_boosts_note_id_notes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_editor_boosts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editor_boosts'))
    )
    with op.batch_alter_table('editor_boosts', schema=None) as batch_op:
        batch_op.create_index('ix_editor_boosts_ends_at', ['ends_at'], unique=False)

    op.create_table('editor_picks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.String(length=48), nullable=False),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_editor_picks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], name=op.f('fk_editor_picks_note_id_notes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_editor_picks'))
    )
    with op.batch_alter_table('editor_picks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editor_picks_note_id'), ['note_id'], unique=False)
        batch_op.create_index('ix_editor_picks_slot_starts_at', ['slot', 'starts_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('editor_picks', schema=None) as batch_op:
        batch_op.drop_index('ix_editor_picks_slot_starts_at')
        batch_op.drop_index(batch_op.f('ix_editor_picks_note_id'))

    op.drop_table('editor_picks')
    with op.batch_alter_table('editor_boosts', schema=None) as batch_op:
        batch_op.drop_index('ix_editor_boosts_ends_at')

    op.drop_table('editor_boosts')
    with op.batch_alter_table('editorial_log', schema=None) as batch_op:
        batch_op.drop_index('ix_editorial_log_created_at')

    op.drop_table('editorial_log')
    with op.batch_alter_table('content_sources', schema=None) as batch_op:
        batch_op.drop_index('ix_content_sources_kind_target_id')

    op.drop_table('content_sources')
