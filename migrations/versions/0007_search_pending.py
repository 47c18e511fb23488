"""search_pending: items whose search index entry is still to be written

Indexing an item for substring search (FTS5 trigram, pg_trgm GIN) was the largest single cost of
storing it: about 250 µs of the poll writer's time per item, most of it at the commit that
flushes the index. A poll now queues the ids of the items it stores or changes here, and the
index is written after the poll, a large batch per transaction (store/search.py
``index_pending``). Until then search reads the queued items directly, so nothing stored is
missing from its answers. ``n`` counts the queuings: an item changed again while its batch was
being indexed stays queued.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'search_pending',
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_search_pending_item_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('item_id', name=op.f('pk_search_pending')),
    )


def downgrade() -> None:
    # What was still queued is indexed first: the schema below this one indexes as it stores.
    from monitor.store.search import index_rows

    bind = op.get_bind()
    while True:  # in chunks: bounded memory
        rows = bind.execute(sa.text(
            "SELECT i.id, i.title, i.summary, i.content FROM search_pending p JOIN items i ON i.id = p.item_id "
            "ORDER BY i.id LIMIT 2000")).all()
        if not rows:
            break
        index_rows(bind, [(r.id, r.title, r.summary, r.content) for r in rows])
        bind.execute(sa.text(f"DELETE FROM search_pending WHERE item_id IN ({','.join(str(r.id) for r in rows)})"))
    op.drop_table('search_pending')
