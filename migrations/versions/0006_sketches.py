"""sketches: each article's prepared dedupe form

A candidate found by the anchor index used to be normalised and shingled again at every check that
found it (most of a cold poll's time). Its sketch (shingles and the few facts the verification
reads) is written once, when the article is decided. Articles stored before this revision have
none and are prepared from their text as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sketches',
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_sketches_item_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('item_id', name=op.f('pk_sketches')),
    )


def downgrade() -> None:
    op.drop_table('sketches')
