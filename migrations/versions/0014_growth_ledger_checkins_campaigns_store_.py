"""growth ledger checkins campaigns store account links image edits

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 02:54:00.981557
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('growth_checkins',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_growth_checkins_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_growth_checkins'))
    )
    op.create_table('moderation_account_links',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('linked_user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_moderation_account_links_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['linked_user_id'], ['users.id'], name=op.f('fk_moderation_account_links_linked_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_moderation_account_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'linked_user_id', name=op.f('pk_moderation_account_links'))
    )
    op.create_table('points_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('ref_type', sa.String(length=16), nullable=True),
    sa.Column('ref_id', sa.Integer(), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_points_ledger_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reverses_id'], ['points_ledger.id'], name=op.f('fk_points_ledger_reverses_id_points_ledger'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_points_ledger_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_ledger')),
    sa.UniqueConstraint('key', name=op.f('uq_points_ledger_key'))
    )
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_points_ledger_ref', ['ref_type', 'ref_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_ledger_reverses_id'), ['reverses_id'], unique=False)
        batch_op.create_index('ix_points_ledger_user_id_day_action', ['user_id', 'day', 'action'], unique=False)
        batch_op.create_index('ix_points_ledger_user_id_id', ['user_id', 'id'], unique=False)

    op.create_table('store_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=False),
    sa.Column('per_user_limit', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('redeemed_count', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('price_points > 0', name=op.f('ck_store_items_price_positive')),
    sa.CheckConstraint('stock >= 0', name=op.f('ck_store_items_stock_not_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_store_items_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_items'))
    )
    op.create_table('growth_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('required_days', sa.Integer(), nullable=False),
    sa.Column('reward_points', sa.Integer(), nullable=False),
    sa.Column('participant_count', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('required_days > 0', name=op.f('ck_growth_campaigns_required_days_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_growth_campaigns_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_growth_campaigns_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_growth_campaigns'))
    )
    with op.batch_alter_table('growth_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_growth_campaigns_topic_id'), ['topic_id'], unique=False)

    op.create_table('store_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('price_points', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['store_items.id'], name=op.f('fk_store_redemptions_item_id_store_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_store_redemptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_redemptions'))
    )
    with op.batch_alter_table('store_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_store_redemptions_item_id_id', ['item_id', 'id'], unique=False)
        batch_op.create_index('ix_store_redemptions_user_id_item_id', ['user_id', 'item_id'], unique=False)

    op.create_table('growth_campaign_days',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('note_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['growth_campaigns.id'], name=op.f('fk_growth_campaign_days_campaign_id_growth_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], name=op.f('fk_growth_campaign_days_note_id_notes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_growth_campaign_days_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'user_id', 'day', name=op.f('pk_growth_campaign_days'))
    )
    op.create_table('growth_campaign_members',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('days_done', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['growth_campaigns.id'], name=op.f('fk_growth_campaign_members_campaign_id_growth_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_growth_campaign_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'user_id', name=op.f('pk_growth_campaign_members'))
    )
    with op.batch_alter_table('growth_campaign_members', schema=None) as batch_op:
        batch_op.create_index('ix_growth_campaign_members_board', ['campaign_id', 'days_done', 'last_day'], unique=False)

    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edits', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('watermark', sa.String(length=60), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.drop_column('watermark')
        batch_op.drop_column('edits')

    with op.batch_alter_table('growth_campaign_members', schema=None) as batch_op:
        batch_op.drop_index('ix_growth_campaign_members_board')

    op.drop_table('growth_campaign_members')
    op.drop_table('growth_campaign_days')
    with op.batch_alter_table('store_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_store_redemptions_user_id_item_id')
        batch_op.drop_index('ix_store_redemptions_item_id_id')

    op.drop_table('store_redemptions')
    with op.batch_alter_table('growth_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_growth_campaigns_topic_id'))

    op.drop_table('growth_campaigns')
    op.drop_table('store_items')
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_points_ledger_user_id_id')
        batch_op.drop_index('ix_points_ledger_user_id_day_action')
        batch_op.drop_index(batch_op.f('ix_points_ledger_reverses_id'))
        batch_op.drop_index('ix_points_ledger_ref')

    op.drop_table('points_ledger')
    op.drop_table('moderation_account_links')
    op.drop_table('growth_checkins')
