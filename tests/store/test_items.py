"""Item rows inserted many to a statement come back with their ids in row order, on every backend."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.store.engine import Database
from monitor.store.items import insert_items
from monitor.store.models import Item


def test_ids_follow_the_rows_across_statements(db_url):
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    with db.begin() as s:
        first = insert_items(s, [dict(title="seed", published_at=now, fetched_at=now, updated_at=now,
                                      title_derived=False)])
        rows = [dict(title=f"条目{n}", published_at=now, fetched_at=now, updated_at=now, title_derived=False)
                for n in range(2500)]  # more than one multi-row statement (SQLAlchemy sends 1,000 a time)
        ids = insert_items(s, rows)
    assert len(ids) == 2500 and len(set(ids)) == 2500 and min(ids) > first[0]
    with db.session() as s:
        stored = dict(s.execute(select(Item.id, Item.title).where(Item.id.in_(ids[:900]))).all())
        stored.update(s.execute(select(Item.id, Item.title).where(Item.id.in_(ids[900:]))).all())
    assert [stored[i] for i in ids] == [r["title"] for r in rows]
    db.dispose()
