"""items.backlog, feeds.first_success_at, matches.via

Back catalogue: an item published before its feed's first successful poll (less a day), or more
than max_age before it was first seen, is stored and indexed for dedupe but never alerted or
mailed. matches.via records a match that comes from the watch's own search feed (the engine saw
the article; we only see its headline).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backlog', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_success_at', sa.DateTime(timezone=True), nullable=True))
    # Feeds already polled: their first success is unknown; their last one is a safe stand-in.
    op.execute("UPDATE feeds SET first_success_at = last_success_at")
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('via')
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_column('first_success_at')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('backlog')
