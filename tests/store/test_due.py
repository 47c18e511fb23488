"""When the resting daemon's next job is due: the earliest feed and the earliest email to try."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from monitor.store import deliveries, feeds
from monitor.store.engine import Database
from monitor.store.models import Delivery, Feed


def _feed(s, name: str, next_poll_at, active: bool = True) -> None:
    now = datetime.now(UTC)
    s.execute(insert(Feed).values(name=name, url=f"http://127.0.0.1/{name}", config_url=f"http://127.0.0.1/{name}",
                                  active=active, next_poll_at=next_poll_at, created_at=now, updated_at=now))


def _delivery(s, n: int, status: str, next_attempt_at=None, lease_until=None) -> None:
    s.execute(insert(Delivery).values(kind="digest", recipients="a@example.com", period=f"p{n}", message_id=f"<{n}@x>",
                                      subject="s", body_html="", body_text="", status=status,
                                      next_attempt_at=next_attempt_at, lease_until=lease_until,
                                      created_at=datetime.now(UTC)))


def test_next_feed_due_and_next_email_to_try(db_url):
    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC).replace(microsecond=0)
    with db.begin() as s:
        assert feeds.next_due(s) is None and deliveries.next_attempt(s) is None
        _feed(s, "later", now + timedelta(hours=2))
        _feed(s, "sooner", now + timedelta(minutes=20))
        _feed(s, "retired", now - timedelta(days=3), active=False)
        _delivery(s, 1, "sent")
        _delivery(s, 2, "failed")  # given up: no next attempt
        _delivery(s, 3, "failed", next_attempt_at=now + timedelta(minutes=30))
        _delivery(s, 4, "sending", lease_until=now + timedelta(minutes=4))
    with db.session() as s:
        assert feeds.next_due(s) == now + timedelta(minutes=20)  # the retired feed does not count
        assert deliveries.next_attempt(s) == now + timedelta(minutes=4)  # a send whose lease may run out
    with db.begin() as s:
        s.execute(update(Delivery).where(Delivery.status == "sending").values(status="sent"))
        _feed(s, "new", None)  # never polled: due now
    with db.session() as s:
        assert abs(feeds.next_due(s) - datetime.now(UTC)) < timedelta(seconds=5)
        assert deliveries.next_attempt(s) == now + timedelta(minutes=30)
    db.dispose()


def test_first_polls_counts_feeds_never_polled_that_this_poll_takes_and_feeds_it_adds(db_url):
    """``stats.first_polls``: how many feeds a poll parses whole (``pipeline.pool.for_poll``
    forks its parse processes from four)."""
    from monitor.store import stats

    db = Database(db_url)
    db.migrate()
    now = datetime.now(UTC)
    with db.begin() as s:
        _feed(s, "new", None)
        _feed(s, "new-later", now + timedelta(hours=1))
        _feed(s, "known", None)
        s.execute(update(Feed).where(Feed.name == "known").values(first_success_at=now))
        _feed(s, "retired", None, active=False)
    with db.session() as s:
        assert stats.first_polls(s, now) == 1  # due by now: "new" only
        assert stats.first_polls(s, None) == 2  # due or not (--all)
        assert stats.first_polls(s, None, ["new-later", "known"]) == 1  # the named ones (--feed)
        assert stats.first_polls(s, now, new=["new", "added", "also added"]) == 3  # and the two not stored yet
    db.dispose()
