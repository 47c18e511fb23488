"""The dedupe index in the database, on every backend: look-ups pass their hashes as one parameter
(``_postings``), and an article's rows are deleted through its sketch row (migration 0008)."""
from __future__ import annotations

import random
import struct
from datetime import UTC, datetime

from sqlalchemy import insert, inspect, select

from monitor.dedupe.decide import Decision, Outcome
from monitor.dedupe.fingerprint import EMPTY_SKETCH, pack, prepare, unpack
from monitor.store import fingerprints, items
from monitor.store.engine import Database, downgrade, make_engine, sessions, upgrade
from monitor.store.items import insert_items
from monitor.store.models import Sketch


def test_postings_of_many_hashes_signed_and_repeated(db_url):
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    rng = random.Random(7)
    with db.begin() as s:
        ids = insert_items(s, [dict(title=f"条目{n}", published_at=now, fetched_at=now, updated_at=now,
                                    title_derived=False) for n in range(3)])
        hashes = [rng.randint(-2**63, 2**63 - 1) for _ in range(2500)] + [-2**63, 2**63 - 1, 0]
        rows = [(h, ids[k % 3]) for k, h in enumerate(hashes)] + [(hashes[0], ids[1]), (hashes[0], ids[2])]
        s.connection().exec_driver_sql(
            "INSERT INTO fingerprints (hash, item_id) VALUES " + ",".join(f"({h}, {i})" for h, i in set(rows)))
    with db.session() as s:
        asked = hashes[::2] + hashes[:10] + [12345]  # every other hash, some twice, one absent
        got = fingerprints._postings(s, asked)
        assert sorted(got) == sorted({(h, i) for h, i in rows if h in set(asked)})
        assert fingerprints._postings(s, []) == []
    db.dispose()


def _items(s, n: int, when: datetime) -> list[int]:
    return insert_items(s, [dict(title=f"条目{k}", published_at=when, fetched_at=when, updated_at=when,
                                 title_derived=False) for k in range(n)])


def _index(db) -> set[tuple[int, int]]:
    with db.session() as s:
        return set(s.connection().exec_driver_sql("SELECT hash, item_id FROM fingerprints").all())


def test_an_items_rows_go_with_it_and_no_other_rows_do(db_url):
    """The rows have no foreign key and no index by item (migration 0008): forgetting an item, or
    retention deleting it, finds its rows through its sketch row, and leaves a hash it shares with
    another item indexed for that one."""
    db = Database(db_url)
    db.migrate()
    old, now = datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC)
    with db.begin() as s:
        a, b, c = _items(s, 3, now)
        gone, kept = _items(s, 2, old)
        copy = Decision(kind="full", duplicate_of=a, matched=a, similarity=0.9, method="near")
        fingerprints.save_outcomes(s, [
            Outcome(a, Decision(kind="full"), (1, -2, 3), b"", (2**63 - 1,)),  # an original: its shared too
            Outcome(b, copy, (4, 5), b"", (1, -2)),  # a copy: not what its story has
            Outcome(c, Decision(kind="full"), (1, 6), pack(prepare("标题", "正文" * 30))),
            Outcome(gone, Decision(kind="full"), (7, 1), b""),
            Outcome(kept, Decision(kind="title"), (), b""),  # decided, nothing indexed
        ])
    assert _index(db) == {(1, a), (-2, a), (3, a), (2**63 - 1, a), (4, b), (5, b), (1, c), (6, c), (7, gone),
                          (1, gone)}
    with db.begin() as s:
        fingerprints.forget(s, [a])
        assert not fingerprints.is_indexed(s, a) and fingerprints.is_indexed(s, b)
    assert _index(db) == {(4, b), (5, b), (1, c), (6, c), (7, gone), (1, gone)}
    with db.begin() as s:
        assert items.drop_older_than(s, datetime(2021, 1, 1, tzinfo=UTC), 100) == 2
    assert _index(db) == {(4, b), (5, b), (1, c), (6, c)}
    with db.session() as s:
        assert sorted(fingerprints._postings(s, [1, 4, 7])) == [(1, c), (4, b)]
    db.dispose()


def test_migration_0008_lists_each_items_hashes_and_drops_the_key(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    now = datetime.now(UTC)
    with sessions(engine).begin() as s:
        sketched, bare, none = _items(s, 3, now)
        s.connection().exec_driver_sql(
            "INSERT INTO fingerprints (hash, item_id) VALUES " +
            ",".join(f"({h}, {i})" for h, i in [(5, sketched), (-9, sketched), (5, bare), (2**63 - 1, bare)]))
        s.execute(insert(Sketch.__table__).values(item_id=sketched, data=b"sketch"))
    upgrade(engine)
    assert inspect(engine).get_foreign_keys("fingerprints") == []
    assert [ix for ix in inspect(engine).get_indexes("fingerprints") if ix["column_names"] == ["item_id"]] == []
    with sessions(engine)() as s:
        rows = {i: (d, h) for i, d, h in s.execute(select(Sketch.item_id, Sketch.data, Sketch.indexed))}
    assert set(rows) == {sketched, bare}  # none: it indexed nothing
    assert rows[sketched][0] == b"sketch" and sorted(struct.unpack("<2q", rows[sketched][1])) == [-9, 5]
    assert rows[bare][0] == EMPTY_SKETCH and unpack(EMPTY_SKETCH) is None
    assert sorted(struct.unpack("<2q", rows[bare][1])) == [5, 2**63 - 1]
    downgrade(engine, "0007")
    assert inspect(engine).get_foreign_keys("fingerprints")[0]["referred_table"] == "items"
    assert "indexed" not in {c["name"] for c in inspect(engine).get_columns("sketches")}
    with sessions(engine)() as s:
        assert s.scalars(select(Sketch.item_id)).all() == [sketched]
        assert len(s.connection().exec_driver_sql("SELECT hash FROM fingerprints").all()) == 4
    downgrade(engine, "base")
    engine.dispose()
