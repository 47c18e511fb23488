"""fingerprints without a foreign key or an index by item; sketches list the hashes to delete

Each article writes 20-28 fingerprint rows. Their foreign key (a look-up in items for every row)
and their index by item_id (a second B-tree to write) were a third of the cost of writing them,
the largest single write of a poll. They served only deletes: an article's rows are now found by
the hashes its sketch row lists (``sketches.indexed``, little-endian int64s) and deleted before it
is (store/fingerprints.py ``unindex``). An article indexed before sketches were kept gets a sketch
row of no version (5 zero bytes: it is still prepared from its text) that lists its hashes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import struct
from itertools import groupby

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

EMPTY_SKETCH = bytes(5)  # dedupe/fingerprint.py EMPTY_SKETCH: version 0, no head
CHUNK = 5000  # articles a step: memory stays bounded on a store of millions of rows


def upgrade() -> None:
    op.add_column('sketches', sa.Column('indexed', sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    last = -1
    while True:
        ids = bind.execute(sa.text("SELECT DISTINCT item_id FROM fingerprints WHERE item_id > :last "
                                   "ORDER BY item_id LIMIT :n"), {"last": last, "n": CHUNK}).scalars().all()
        if not ids:
            break
        _list_hashes(bind, last, ids[-1])
        last = ids[-1]
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(keyed=False)
    else:
        op.drop_constraint('fk_fingerprints_item_id_items', 'fingerprints', type_='foreignkey')
        op.drop_index('ix_fingerprints_item_id', table_name='fingerprints')


def _list_hashes(bind, after: int, upto: int) -> None:
    rows = bind.execute(sa.text("SELECT item_id, hash FROM fingerprints WHERE item_id > :a AND item_id <= :b "
                                "ORDER BY item_id"), {"a": after, "b": upto}).all()
    have = set(bind.execute(sa.text("SELECT item_id FROM sketches WHERE item_id > :a AND item_id <= :b"),
                            {"a": after, "b": upto}).scalars())
    update, insert = [], []
    for item_id, group in groupby(rows, key=lambda r: r[0]):
        hashes = [h for _, h in group]
        packed = struct.pack(f"<{len(hashes)}q", *hashes)
        (update if item_id in have else insert).append({"i": item_id, "h": packed, "d": EMPTY_SKETCH})
    if update:
        bind.execute(sa.text("UPDATE sketches SET indexed = :h WHERE item_id = :i"), update)
    if insert:
        bind.execute(sa.text("INSERT INTO sketches (item_id, data, indexed) VALUES (:i, :d, :h)"), insert)


def _rebuild_sqlite(keyed: bool) -> None:
    """SQLite drops neither a foreign key nor adds one in place: the table is copied, in its key's
    order."""
    columns = [sa.Column('hash', sa.BigInteger(), nullable=False), sa.Column('item_id', sa.Integer(), nullable=False)]
    if keyed:
        columns.append(sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_fingerprints_item_id_items'),
                                               ondelete='CASCADE'))
    op.create_table('fingerprints_new', *columns,
                    sa.PrimaryKeyConstraint('hash', 'item_id', name=op.f('pk_fingerprints')), sqlite_with_rowid=False)
    op.execute("INSERT INTO fingerprints_new (hash, item_id) SELECT hash, item_id FROM fingerprints ORDER BY hash, item_id")
    op.drop_table('fingerprints')
    op.rename_table('fingerprints_new', 'fingerprints')
    if keyed:
        op.create_index(op.f('ix_fingerprints_item_id'), 'fingerprints', ['item_id'], unique=False)


def downgrade() -> None:
    bind = op.get_bind()
    # Rows of items deleted some other way than unindex (nothing in the monitor does) would
    # break the foreign key.
    op.execute("DELETE FROM fingerprints WHERE item_id NOT IN (SELECT id FROM items)")
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(keyed=True)
    else:
        op.create_index(op.f('ix_fingerprints_item_id'), 'fingerprints', ['item_id'], unique=False)
        op.create_foreign_key(op.f('fk_fingerprints_item_id_items'), 'fingerprints', 'items', ['item_id'], ['id'],
                              ondelete='CASCADE')
    bind.execute(sa.text("DELETE FROM sketches WHERE data = :d"), {"d": EMPTY_SKETCH})
    with op.batch_alter_table('sketches') as batch:
        batch.drop_column('indexed')
