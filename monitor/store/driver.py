"""Statements sent to the database driver as written: for the hot paths of a poll, where
SQLAlchemy's per-row parameter processing and result objects cost more than the statement."""
from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.orm import Session


def native(session: Session, sql: str) -> str:
    """``{}`` placeholders in the driver's own style (sqlite3: ?, psycopg: %s)."""
    return sql.replace("{}", "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s")


def driver_sql(session: Session, sql: str, params: tuple | list):
    """``sql`` (``{}`` placeholders) with ``params``, or with each of a list of parameter tuples."""
    return session.connection().exec_driver_sql(native(session, sql), params)


def rows(session: Session, sql: str, params: tuple | list = ()) -> list[tuple]:
    """Plain tuples from the driver's own cursor: the hot look-ups of every stored article skip
    the result objects, which cost more than the query itself."""
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(native(session, sql), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def one_of(session: Session, column: str, values: Sequence[object], pg_type: str = "text") -> tuple[str, object]:
    """``column`` is one of ``values``, as a condition with one ``{}`` placeholder and its one
    parameter (a JSON array on SQLite, an array on PostgreSQL): the statement's text is the same
    for any number of values, so the driver prepares it once, where one placeholder per value
    made each look-up a new statement to parse."""
    if session.get_bind().dialect.name == "postgresql":
        return f"{column} = ANY({{}}::{pg_type}[])", list(values)
    return f"{column} IN (SELECT value FROM json_each({{}}))", json.dumps(list(values))
