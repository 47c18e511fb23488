"""Index look-ups pass their hashes as one parameter (store/fingerprints.py ``_postings``): every
row of every hash asked for comes back, on every backend, however many hashes and whatever their sign."""
from __future__ import annotations

import random
from datetime import UTC, datetime

from monitor.store import fingerprints
from monitor.store.engine import Database
from monitor.store.items import insert_items


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
