"""fingerprints: anchor and title-key hashes replace LSH band rows

The dedupe stage indexes sampled shingle hashes (anchors) instead of MinHash LSH bands: one
index finds both full-text reprints and summaries contained in a longer article (see
monitor/fingerprint.py). The old table held nothing yet: no stage wrote to it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fingerprint_bands', schema=None) as batch_op:
        batch_op.drop_index('ix_fingerprint_bands_band_hash')
    op.drop_table('fingerprint_bands')
    op.create_table(
        'fingerprints',
        sa.Column('hash', sa.BigInteger(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_fingerprints_item_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('hash', 'item_id', name=op.f('pk_fingerprints')),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f('ix_fingerprints_item_id'), 'fingerprints', ['item_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_fingerprints_item_id'), table_name='fingerprints')
    op.drop_table('fingerprints')
    op.create_table(
        'fingerprint_bands',
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('band', sa.Integer(), nullable=False),
        sa.Column('hash', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_fingerprint_bands_item_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('item_id', 'band', name=op.f('pk_fingerprint_bands')),
    )
    with op.batch_alter_table('fingerprint_bands', schema=None) as batch_op:
        batch_op.create_index('ix_fingerprint_bands_band_hash', ['band', 'hash'], unique=False)
