"""feeds.last_error_kind; drop the unused items.title_key

A feed's failure is kept with its kind (errors.FailureKind) so `monitor status` and /metrics can
group failing feeds by why they fail. items.title_key was never read: title keys are fingerprint
rows (see monitor/dedupe/fingerprint.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_error_kind', sa.String(length=20), nullable=True))
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_title_key'))
        batch_op.drop_column('title_key')


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_key', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_items_title_key'), ['title_key'], unique=False)
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_column('last_error_kind')
