"""the web view: archive search, feedback, recipient preferences

item_search holds each item's title and text in the match form (script, width and case folded,
monitor/text/normalize.py), indexed for substring search: SQLite FTS5 with the trigram tokenizer,
PostgreSQL pg_trgm GIN indexes. It is kept by the store as items are written; this migration
fills it for the items already stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'story_feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('watch_id', sa.Integer(), nullable=False),
        sa.Column('verdict', sa.String(length=20), nullable=False),
        sa.Column('decided_by', sa.String(length=320), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_story_feedback_item_id_items'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['watch_id'], ['watches.id'], name=op.f('fk_story_feedback_watch_id_watches'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_story_feedback')),
        sa.UniqueConstraint('item_id', 'watch_id', name=op.f('uq_story_feedback_item_id_watch_id')),
    )
    op.create_index(op.f('ix_story_feedback_item_id'), 'story_feedback', ['item_id'], unique=False)
    op.create_table(
        'cluster_feedback',
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('other_id', sa.Integer(), nullable=False),
        sa.Column('same', sa.Boolean(), nullable=False),
        sa.Column('decided_by', sa.String(length=320), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_cluster_feedback_item_id_items'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['other_id'], ['items.id'], name=op.f('fk_cluster_feedback_other_id_items'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('item_id', 'other_id', name=op.f('pk_cluster_feedback')),
    )
    op.create_table(
        'recipient_prefs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient_prefs')),
        sa.UniqueConstraint('recipient', 'scope', name=op.f('uq_recipient_prefs_recipient_scope')),
    )
    op.create_table(
        'settings',
        sa.Column('key', sa.String(length=100), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_settings')),
    )
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE item_search USING fts5(title, body, tokenize='trigram')")
    else:
        op.execute("CREATE TABLE item_search (item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE, "
                   "title TEXT NOT NULL, body TEXT NOT NULL)")
        _trigram_indexes(bind)
    _backfill(bind)


def _trigram_indexes(bind) -> None:
    """pg_trgm GIN indexes serve LIKE '%term%'. Creating the extension needs a role allowed to;
    without it search still works, by scanning (the savepoint keeps the migration going)."""
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        bind.execute(sa.text("CREATE INDEX ix_item_search_title ON item_search USING gin (title gin_trgm_ops)"))
        bind.execute(sa.text("CREATE INDEX ix_item_search_body ON item_search USING gin (body gin_trgm_ops)"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
    else:
        savepoint.commit()


def _backfill(bind) -> None:
    from monitor.store.search import index_rows

    last = 0
    while True:  # in chunks: a large archive is not read into memory at once
        rows = bind.execute(sa.text("SELECT id, title, summary, content FROM items WHERE id > :last "
                                    "ORDER BY id LIMIT 2000"), {"last": last}).all()
        if not rows:
            return
        index_rows(bind, [(r.id, r.title, r.summary, r.content) for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS item_search")
    op.drop_table('settings')
    op.drop_table('recipient_prefs')
    op.drop_table('cluster_feedback')
    op.drop_index(op.f('ix_story_feedback_item_id'), table_name='story_feedback')
    op.drop_table('story_feedback')
