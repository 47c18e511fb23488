"""A poll's outcome written on its feed's row: validators kept across a 304, failures counted,
a permanent redirect followed, the lease released."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from monitor.errors import Failure, FailureKind
from monitor.store import feeds
from monitor.store.engine import Database
from monitor.store.models import Feed

CAP = timedelta(hours=6)


def _claimed(db: Database, now: datetime) -> feeds.Claimed:
    with db.begin() as s:
        fid = s.scalar(insert(Feed).returning(Feed.id).values(
            name="f", url="http://127.0.0.1/f.xml", config_url="http://127.0.0.1/f.xml", created_at=now,
            updated_at=now, lease_owner="me", lease_until=now + timedelta(minutes=5)))
    return feeds.Claimed(fid, "f", "http://127.0.0.1/f.xml", None, None, None, timedelta(minutes=30), 0, token="me")


def _record(db: Database, claim: feeds.Claimed, outcome: feeds.PollOutcome) -> tuple[str, Feed]:
    with db.begin() as s:
        url = feeds.record_poll(s, claim, outcome, CAP)
    with db.session() as s:
        row = s.scalars(select(Feed)).one()
        s.expunge(row)
    return url, row


def test_the_outcomes_of_successive_polls_on_the_feed_row(db_url):
    db = Database(db_url)
    db.migrate()
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    claim = _claimed(db, t0)

    url, row = _record(db, claim, feeds.PollOutcome(at=t0, http_status=200, etag='"v1"', last_modified="Mon, 30 Nov",
                                                    warning="not well-formed"))
    assert url == "http://127.0.0.1/f.xml"
    assert (row.etag, row.last_modified, row.last_warning, row.last_http_status) == ('"v1"', "Mon, 30 Nov",
                                                                                    "not well-formed", 200)
    assert row.first_success_at == row.last_success_at == row.last_fetch_at == t0
    assert row.lease_owner is None and row.lease_until is None and row.consecutive_failures == 0
    assert row.next_poll_at == t0 + timedelta(minutes=30)

    t1 = t0 + timedelta(minutes=30)  # a 304 that names no validators keeps the ones we have
    _, row = _record(db, claim, feeds.PollOutcome(at=t1, http_status=304, not_modified=True))
    assert (row.etag, row.last_modified, row.last_warning) == ('"v1"', "Mon, 30 Nov", "not well-formed")
    assert row.first_success_at == t0 and row.last_success_at == t1

    t2 = t1 + timedelta(minutes=30)
    for n in (1, 2):
        _, row = _record(db, claim, feeds.PollOutcome(at=t2, failure=Failure(FailureKind.TIMEOUT, "timed out"),
                                                      http_status=None))
        assert row.consecutive_failures == n and row.last_error == "timed out" and row.last_error_kind == "timeout"
    assert row.last_success_at == t1 and row.etag == '"v1"' and row.next_poll_at > t2

    t3 = t2 + timedelta(minutes=30)  # a 200 without validators drops them; a permanent redirect moves the feed
    url, row = _record(db, claim, feeds.PollOutcome(at=t3, http_status=200, permanent_url="http://127.0.0.1/g.xml"))
    assert url == row.url == "http://127.0.0.1/g.xml" and row.config_url == "http://127.0.0.1/f.xml"
    assert row.etag is None and row.last_modified is None and row.last_warning is None
    assert row.consecutive_failures == 0 and row.first_success_at == t0 and row.last_error == "timed out"


def test_a_feed_the_session_holds_reads_the_outcome(db_url):
    """record_poll writes with an UPDATE of the table: a Feed loaded before it in the same
    session must not keep the values it had."""
    db = Database(db_url)
    db.migrate()
    t0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    claim = _claimed(db, t0)
    with db.begin() as s:
        held = s.get(Feed, claim.id)
        assert held is not None and held.lease_owner == "me"
        feeds.record_poll(s, claim, feeds.PollOutcome(at=t0, failure=Failure(FailureKind.HTTP, "HTTP 500")), CAP)
        assert held.lease_owner is None and held.consecutive_failures == 1 and held.last_error == "HTTP 500"
