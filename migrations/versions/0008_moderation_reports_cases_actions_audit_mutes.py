"""moderation reports cases actions audit mutes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 00:21:56.763858
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('moderation_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target_type', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('after', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_moderation_audit_actor_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_audit'))
    )
    with op.batch_alter_table('moderation_audit', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_audit_created_at', ['created_at'], unique=False)

    op.create_table('moderation_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('target_user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason_code', sa.String(length=48), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('weighted_reports', sa.Float(), nullable=False),
    sa.Column('reach', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('auto_hidden', sa.Boolean(), nullable=False),
    sa.Column('claimed_by_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claimed_by_id'], ['users.id'], name=op.f('fk_moderation_cases_claimed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_moderation_cases_target_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_cases')),
    sa.UniqueConstraint('target_type', 'target_id', name='uq_moderation_cases_target')
    )
    with op.batch_alter_table('moderation_cases', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_cases_status_priority', ['status', 'priority'], unique=False)

    op.create_table('moderation_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target_type', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason_code', sa.String(length=48), nullable=False),
    sa.Column('duration_days', sa.Integer(), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('moderator_id', sa.Integer(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('reversed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['moderation_cases.id'], name=op.f('fk_moderation_actions_case_id_moderation_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_moderation_actions_moderator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_moderation_actions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_actions'))
    )
    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_actions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_actions_user_id'), ['user_id'], unique=False)

    op.create_table('moderation_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=False),
    sa.Column('reason_code', sa.String(length=48), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['moderation_cases.id'], name=op.f('fk_moderation_reports_case_id_moderation_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_moderation_reports_reporter_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_reports')),
    sa.UniqueConstraint('reporter_id', 'target_type', 'target_id', name='uq_moderation_reports_reporter')
    )
    with op.batch_alter_table('moderation_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_reports_case_id'), ['case_id'], unique=False)

    op.create_table('moderation_mutes',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason_code', sa.String(length=48), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['moderation_actions.id'], name=op.f('fk_moderation_mutes_action_id_moderation_actions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_moderation_mutes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_moderation_mutes'))
    )


def downgrade() -> None:
    op.drop_table('moderation_mutes')
    with op.batch_alter_table('moderation_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_reports_case_id'))

    op.drop_table('moderation_reports')
    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_actions_user_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_actions_case_id'))

    op.drop_table('moderation_actions')
    with op.batch_alter_table('moderation_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_cases_status_priority')

    op.drop_table('moderation_cases')
    with op.batch_alter_table('moderation_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_audit_created_at')

    op.drop_table('moderation_audit')
