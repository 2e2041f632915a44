"""search: the query log behind hot search terms, and editors' term rules

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'search_queries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('term', sa.String(length=40), nullable=False),
        sa.Column('searcher', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('term', 'searcher', 'day', name='uq_search_queries_term_searcher_day'),
    )
    op.create_index('ix_search_queries_day_term', 'search_queries', ['day', 'term'])
    op.create_table(
        'search_term_rules',
        sa.Column('term', sa.String(length=40), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('position', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('term'),
    )


def downgrade() -> None:
    op.drop_table('search_term_rules')
    op.drop_index('ix_search_queries_day_term', table_name='search_queries')
    op.drop_table('search_queries')
