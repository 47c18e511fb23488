"""Archive search: the watch query language over every stored item.

``item_search`` holds each item's title and text in the match form (script, width and case
folded by ``text.normalize.match_form``), so 消費金融 finds 消费金融 as the watches do. On SQLite it
is an FTS5 table with the trigram tokenizer (any substring of three or more characters is found
through the index; shorter terms fall back to LIKE, which scans); on PostgreSQL a plain table
with pg_trgm GIN indexes serving LIKE. The index narrows the candidates; the watch matcher then
decides on the candidates exactly as it decides for a watch (word boundaries, NOT, fields), and
gives the spans to highlight.

Polls do not write the index: they queue the items they store or change in ``search_pending``
(``queue``), and ``index_pending`` indexes the queue after the poll, a large batch per transaction
(migration 0007 says why). Until then every queued item is a candidate of every query, so search
never misses what is stored; the matcher's exact decision keeps the answers the same.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, bindparam, column, func, or_, select, text
from sqlalchemy.orm import Session

from ..text.normalize import match_form
from ..watch.query import And, Node, Not, Or, Term
from .chunks import chunked
from .driver import driver_sql
from .models import Item, SearchPending

BODY_INDEXED = 20_000  # characters of an item's text that search sees: bounds the index
TRIGRAM = 3  # the shortest term the trigram index can find


def search_text(title: str | None, summary: str | None, content: str | None) -> tuple[str, str]:
    # Each field folded on its own, as the matcher folds it (so a poll's forms, made once in a
    # worker, serve both); a term cannot span the summary and the text anyway.
    body = " ".join(match_form(x) for x in (summary, content) if x)
    return match_form(title or ""), body[:BODY_INDEXED]


def index_rows(conn: Any, rows: Sequence[tuple[int, str | None, str | None, str | None]], *,
               new: bool = False) -> None:
    """(Re)index items given as (id, title, summary, content), on a Session or a Connection;
    ``new``: ids never indexed (no old row to replace)."""
    if not rows:
        return
    values: list[dict[str, Any]] = [dict(id=i, title=t, body=b) for i, *fields in rows
                                    for t, b in [search_text(*fields)]]
    if not new:
        _delete(conn, [int(v["id"]) for v in values])
    key = "rowid" if _dialect(conn) == "sqlite" else "item_id"
    conn.execute(text(f"INSERT INTO item_search ({key}, title, body) VALUES (:id, :title, :body)"), values)


def queue(session: Session, ids: Sequence[int]) -> None:
    """Queue items for indexing (new ones, or changed ones whose entry is now stale)."""
    if ids:
        driver_sql(session, "INSERT INTO search_pending (item_id, n) VALUES ({}, 1) "
                   "ON CONFLICT (item_id) DO UPDATE SET n = search_pending.n + 1", [(int(i),) for i in ids])


def index_pending(session: Session, limit: int, max_chars: int) -> tuple[int, bool]:
    """Index queued items, oldest first: up to ``limit`` of them and, past the first, up to
    ``max_chars`` characters of text in all (indexing time, and so how long the write lock is
    held, follows the text's length). How many were taken from the queue, and whether a bound
    left others behind (an item changed meanwhile and kept queued is for the next call).

    A queued item changed again meanwhile (its ``n`` moved on) stays queued for the next batch;
    one deleted meanwhile has left the queue with its row (the foreign key cascades)."""
    least = func.min if _dialect(session) == "sqlite" else func.least  # two-argument minimum
    body = func.coalesce(func.length(Item.summary), 0) + func.coalesce(func.length(Item.content), 0)
    size = func.coalesce(func.length(Item.title), 0) + least(BODY_INDEXED, body)
    queued = session.execute(select(SearchPending.item_id, SearchPending.n, size.label("size"))
                             .join(Item, Item.id == SearchPending.item_id)
                             .order_by(SearchPending.item_id).limit(limit)).all()
    taken: list[Any] = []
    chars = 0
    for q in queued:
        chars += q.size
        if taken and chars > max_chars:
            break
        taken.append(q)
    if not taken:
        return 0, False
    rows = session.execute(select(Item.id, Item.title, Item.summary, Item.content)
                           .where(Item.id.in_([q.item_id for q in taken]))).all()
    index_rows(session, [(r.id, r.title, r.summary, r.content) for r in rows])
    session.execute(text("DELETE FROM search_pending WHERE item_id = :i AND n = :n"),
                    [{"i": q.item_id, "n": q.n} for q in taken])
    return len(taken), len(taken) < len(queued) or len(queued) == limit


def pending(session: Session) -> int:
    """How many items wait for their index entry."""
    return int(session.scalar(select(func.count()).select_from(SearchPending)) or 0)


def unindex(conn: Any, ids: Sequence[int]) -> None:
    """Forget deleted items (PostgreSQL's foreign key does this itself; FTS5 tables have none)."""
    if _dialect(conn) == "sqlite":
        _delete(conn, ids)


def _delete(conn: Any, ids: Sequence[int]) -> None:
    key = "rowid" if _dialect(conn) == "sqlite" else "item_id"
    for chunk in chunked(list(ids)):
        conn.execute(text(f"DELETE FROM item_search WHERE {key} IN ({','.join(str(int(i)) for i in chunk)})"))


def _dialect(conn: Any) -> str:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    return str(bind.dialect.name)


def candidates(session: Session, node: Node, *, limit: int) -> tuple[list[int], bool]:
    """Ids of the newest items that may match ``node``, at most ``limit`` (and whether more were
    cut). A query the index cannot narrow (only ``source:`` terms) scans the newest items."""
    cond = _condition(node, _dialect(session))
    stmt = select(Item.id).order_by(Item.id.desc()).limit(limit + 1)
    if cond is not None:
        stmt = stmt.where(cond)
    ids = list(session.scalars(stmt))
    return ids[:limit], len(ids) > limit


def _condition(node: Node, dialect: str) -> ColumnElement[bool] | None:
    """The tree as a condition on items.id; None where the index cannot narrow (NOT, source:)."""
    if isinstance(node, Term):
        return _term(node, dialect)
    if isinstance(node, Not):
        return None
    parts = [_condition(c, dialect) for c in node.children]
    if isinstance(node, And):
        kept = [p for p in parts if p is not None]
        return and_(*kept) if kept else None
    assert isinstance(node, Or)
    return None if any(p is None for p in parts) else or_(*[p for p in parts if p is not None])


def _term(term: Term, dialect: str) -> ColumnElement[bool] | None:
    folded = match_form(term.text).strip()
    if term.field == "source" or not folded:
        return None
    columns = ["title"] if term.field == "title" else ["title", "body"]
    value = "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if dialect == "sqlite":
        if len(folded) >= TRIGRAM:
            phrase = '"' + folded.replace('"', '""') + '"'
            value = ("title : " + phrase) if term.field == "title" else phrase
            sql = "SELECT rowid FROM item_search WHERE item_search MATCH :p"
        else:
            like = " OR ".join(f"{c} LIKE :p ESCAPE '\\'" for c in columns)
            sql = f"SELECT rowid FROM item_search WHERE {like}"
    else:
        like = " OR ".join(f"{c} LIKE :p ESCAPE '\\'" for c in columns)
        sql = f"SELECT item_id FROM item_search WHERE {like}"
    key = "rowid" if dialect == "sqlite" else "item_id"
    sql += " UNION SELECT item_id FROM search_pending"  # not indexed yet: the matcher decides
    # unique: each term's parameter gets a name of its own in the one statement
    sub = text(sql).bindparams(bindparam("p", value, unique=True)).columns(column(key, Integer))
    return Item.id.in_(sub)
