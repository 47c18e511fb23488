"""Shared fixtures. Databases are real: a SQLite file always, PostgreSQL too when MONITOR_TEST_PG
is set (each test that takes ``db_url`` then runs once per backend)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from helpers.paths import CORPORA, SEEDS

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("MONITOR_TEST_PG") else [])


def pytest_configure(config):
    config.addinivalue_line("markers", "corpus(name): needs ../shared/corpora/NAME; skipped when it is absent")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("corpus"):
        folder = CORPORA / mark.args[0]
        if not folder.is_dir():
            pytest.skip(f"{folder} is not present (the shared corpora sit beside the repository)")


@pytest.fixture(scope="session")
def pg_admin_url():
    return os.environ.get("MONITOR_TEST_PG")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    yield from _pg_database()


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database, for what only PostgreSQL does (several daemons on one database)."""
    if not os.environ.get("MONITOR_TEST_PG"):
        pytest.skip("needs PostgreSQL: set MONITOR_TEST_PG (.ci/run does when a server answers on 127.0.0.1:5432)")
    yield from _pg_database()


def _pg_database():
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(os.environ["MONITOR_TEST_PG"]).set(drivername="postgresql+psycopg")
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


BASE_CONFIG = {
    "timezone": "Asia/Shanghai",
    "locale": "en",  # the tests read the interface's own words in English; tests/i18n checks the Chinese
    "seeds": "seeds/",
    "poll_interval": "30m",
    "feeds": [{"name": "local", "url": "http://127.0.0.1:9/feed.xml", "interval": "15m"}],
    "watches": [
        {"name": "新市民", "query": '新市民 OR "new citizens"'},
        {"name": "消费金融", "keywords": ["消费金融", "消金"], "alert": "immediate"},
    ],
    "digest": {"schedule": "0 8 * * *", "recipients": ["analyst@example.com"], "subject": "日报 {date}"},
    "mail": {"from": "monitor@example.com", "transport": "file", "outbox": "outbox/"},
}


def config_writer(folder: Path, database: str):
    """A function writing config.yaml into ``folder`` (the seeds copied beside it) for ``database``."""

    def make(overrides: dict | None = None, *, text: str | None = None) -> Path:
        path = folder / "config.yaml"
        if text is None:
            data = {**BASE_CONFIG, "database": database, **(overrides or {})}
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        seeds = folder / "seeds"
        if not seeds.exists():
            seeds.mkdir()
            for f in SEEDS.iterdir():
                (seeds / f.name).write_bytes(f.read_bytes())
        return path

    return make


@pytest.fixture
def make_config(tmp_path, db_url):
    """Write a config.yaml for the test's database (each backend in turn) and return its path."""
    return config_writer(tmp_path, db_url)


@pytest.fixture
def sqlite_config(tmp_path):
    """``make_config`` on a SQLite file only: for what is SQLite's alone."""
    return config_writer(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")


@pytest.fixture
def pg_config(tmp_path, pg_url):
    """``make_config`` on a fresh PostgreSQL database only."""
    return config_writer(tmp_path, pg_url)


@pytest.fixture
def feed_server():
    from helpers.feedserver import FeedServer

    with FeedServer() as server:
        yield server
