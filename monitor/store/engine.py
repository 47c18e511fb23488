"""Engine set-up, schema revisions, and the ``Database`` handle the rest of the monitor holds.

SQLite is tuned for a daemon that writes while CLI commands read: WAL (readers never block the
writer), a busy timeout (a second writer waits instead of failing at once) and foreign keys on
(SQLite leaves them off by default). The schema only changes through Alembic migrations; commands
that only read check the revision instead of migrating.
"""
from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import SchemaOutdated, StoreError
from .checkpoint import SAFETY_PAGES, Checkpointer

BUSY_TIMEOUT_MS = 15000


def migrations_dir() -> Path:
    """The Alembic scripts, wherever the package is installed (editable or not)."""
    return Path(str(files("monitor.migrations")))


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"{url!r} is not a database URL: {e}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # LIFO: the connection used last is reused, so one warm page cache serves the daemon's
        # mostly one-at-a-time work instead of each pooled connection filling its own.
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, pool_use_lifo=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is what we install; plain postgresql:// URLs would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # A 16 MB page cache per connection (default 2 MB). It is per connection, so a 64 MB cache
    # on each of the pool's connections took a 1,000-feed daemon to 480 MB; measured on a
    # 1M-article store, 16 MB was as fast as 64 MB for dedupe (the OS page cache serves the rest).
    cur.execute("PRAGMA cache_size=-16384")
    # The log is checkpointed by a thread of its own (store/checkpoint.py), not inside the commit
    # that crosses a threshold; a connection checkpoints itself only past the safety limit.
    cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES}")
    cur.close()


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages and ``monitor check``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run at every start, and from several processes at
    once: they take turns (two daemons starting together on an empty PostgreSQL database both
    ran the migrations, and the second died on alembic_version's unique key)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return  # the usual start: nothing to do, and Alembic (with Mako) stays unimported
    from alembic import command

    with _migration_lock(engine), _transactional_ddl(engine) as migrating:
        command.upgrade(_alembic_config(migrating), revision)


@contextmanager
def _transactional_ddl(engine: Engine) -> Iterator[Engine]:
    """An engine on which the migrations run as one transaction, DDL included. Python's sqlite3
    opens a transaction only before a DML statement, so each CREATE TABLE of a migration had
    committed at once: `monitor run` killed during its first migrations (power lost at the first
    start) left tables without the version that created them, and every later start failed on
    "table ... already exists". Here the driver's own handling is off and each transaction opens
    with BEGIN (SQLAlchemy's recipe for pysqlite), so a migration cut short leaves nothing."""
    if engine.dialect.name != "sqlite":
        yield engine  # PostgreSQL's DDL is transactional already
        return
    migrating = make_engine(engine.url.render_as_string(hide_password=False))
    event.listen(migrating, "connect", _driver_leaves_transactions)
    event.listen(migrating, "begin", _begin)
    try:
        yield migrating
    finally:
        migrating.dispose()


def _driver_leaves_transactions(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None


def _begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


MIGRATION_LOCK = 0x6D6F6E69  # "moni": the advisory lock key all monitors agree on


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(database + ".migrate.lock", "a") as f:  # SQLite: a lock file beside the database
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """What Alembic's version table says, read without Alembic (it and Mako are 6 MB of a daemon
    that only checks the schema at start)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w-]+|None)['\"]?", re.MULTILINE)


def head_revision() -> str:
    """The newest revision among the migration scripts: the one no other script revises."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in migrations_dir().joinpath("versions").glob("*.py"):
        for key, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    assert len(heads) == 1, f"the migrations have {len(heads)} heads: {sorted(heads)}"
    return heads.pop()


def describe(e: BaseException) -> str:
    """A database error in one short line: the driver's own words, no SQL, no parameters."""
    if isinstance(e, DBAPIError) and e.orig is not None:
        text = str(e.orig).strip().splitlines()[0] if str(e.orig).strip() else ""
        return f"{type(e.orig).__name__}: {text}"[:300]
    if isinstance(e, SQLAlchemyError):
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    return f"{type(e).__name__}: {e}"[:300]


DATABASE_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError,)

_ADVICE = (
    (("database is locked", "could not obtain lock", "lock timeout"),
     "another process holds the write lock (a daemon, or a long command); try again, or stop it"),
    (("disk is full", "no space left", "disk full", "could not extend file"),
     "the disk is full: free some space and run the command again (nothing was half-written)"),
    (("disk i/o error",),
     "writing to the disk failed: is it full (df) or failing? Nothing was half-written"),
    (("unable to open database", "readonly database", "read-only", "permission denied"),
     "the database file cannot be opened for writing: check the path and its permissions"),
    (("connection refused", "could not connect", "could not translate host", "connection timed out",
      "server closed the connection", "name or service not known"),
     "cannot reach the database server: is it running, and is the URL in the config right?"),
    (("no such table", "does not exist", "no such column", "undefinedtable", "undefinedcolumn"),
     "the schema is missing or old: run `monitor db upgrade`"),
)


def trouble(e: BaseException, shown: str) -> str:
    """One line for a user: which database, what went wrong, what to do about it."""
    said = describe(e)
    lowered = said.lower()
    advice = next((a for needles, a in _ADVICE if any(n in lowered for n in needles)),
                  "see the message; the database refused the operation")
    return f"database {shown}: {said} -- {advice}"


class Database:
    """The one handle on the database that the pipeline, the CLI and the daemon hold."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessions(self.engine)
        path = self.sqlite_path()
        self.checkpointer = Checkpointer(path, BUSY_TIMEOUT_MS) if path is not None else None
        if self.checkpointer is not None:
            event.listen(self.engine, "commit", self.checkpointer.committed)

    @property
    def shown(self) -> str:
        return display_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        upgrade(self.engine)

    def revision(self) -> str | None:
        return current_revision(self.engine)

    def require_current(self) -> None:
        """For commands that only read: refuse an older schema instead of changing it."""
        current, head = self.revision(), head_revision()
        if current != head:
            raise SchemaOutdated(
                f"database {self.shown} is at revision {current or '(empty)'}, this monitor needs {head}: "
                "run `monitor db upgrade` (the daemon does it at start)")

    def optimize(self) -> None:
        """Fresh planner statistics (``PRAGMA optimize`` / ``ANALYZE``), for a store that grows."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA optimize" if self.dialect == "sqlite" else "ANALYZE")

    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database (None for PostgreSQL or an in-memory one)."""
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()
