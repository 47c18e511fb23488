"""Tables for the whole pipeline: feeds (with fetch state), items, matches, duplicate links,
fingerprints, deliveries (the outbox).

State that decides what happens next (a feed's next poll, what a recipient list has had) lives in
these rows, never in the scheduler, so a restart or a crash loses nothing. The schema itself is
only ever changed by migrations in ``migrations/``; these classes must agree with them
(tests/store/test_engine.py checks that).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

DeliveryKind = Literal["digest", "alert"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Feed(Base):
    """One URL we poll. Search feeds get one row per (template, watch)."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="feed")  # sources.specs.FeedKind
    url: Mapped[str] = mapped_column(Text)  # where we fetch: moves with permanent redirects
    config_url: Mapped[str] = mapped_column(Text)  # what config.yaml said: a change there resets url
    watch_name: Mapped[str | None] = mapped_column(String(200))  # search feeds: the watch it serves
    interval_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    encoding: Mapped[str | None] = mapped_column(String(40))
    full_text: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: retired from config, history kept
    # Conditional GET
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    # Health
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # what came before is back catalogue
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_kind: Mapped[str | None] = mapped_column(String(20))  # errors.FailureKind
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_warning: Mapped[str | None] = mapped_column(Text)  # e.g. feedparser bozo on a usable feed
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Scheduling: computed, claimed in the database (lease) so several daemons can share the work
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Item(Base):
    """An article: from a feed, or from the seed corpus (feed_id NULL, seed_file set)."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid"),
        Index("ix_items_published_id", "published_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"), index=True)
    seed_file: Mapped[str | None] = mapped_column(String(300), unique=True)
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(Text)
    title_derived: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # of normalised text
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Published before its feed was first polled (or long before it was first seen): kept and
    # indexed for dedupe, never alerted or put in a digest.
    backlog: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Duplicate(Base):
    """This item is another copy of ``duplicate_of`` (the first-seen article of its story)."""

    __tablename__ = "duplicates"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    duplicate_of_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    similarity: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(20))  # dedupe.decide.Method
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Fingerprint(Base):
    """Indexed fingerprint hashes (body anchors and title keys, see dedupe/fingerprint.py): a near-
    duplicate check is one ``hash IN (…)`` look-up on the primary key, whatever the store's size.

    No foreign key and no index on ``item_id`` (migration 0008): they were a third of the cost of
    writing these rows, 20-28 an article. An article's rows are deleted through the hashes its
    sketch row lists (``Sketch.indexed``, ``store.fingerprints.unindex``) before it goes."""

    __tablename__ = "fingerprints"
    __table_args__ = ({"sqlite_with_rowid": False},)

    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Sketch(Base):
    """An article's prepared dedupe form (dedupe/fingerprint.py ``pack``): verifying it as a
    candidate reads this row instead of normalising and shingling its text again. ``indexed``:
    the hashes it put in ``fingerprints`` (little-endian int64s; NULL: none), to delete them by.
    Every article with fingerprint rows has a sketch row (one decided before sketches has
    ``EMPTY_SKETCH`` data, and is prepared from its text when it is a candidate)."""

    __tablename__ = "sketches"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    indexed: Mapped[bytes | None] = mapped_column(LargeBinary)


class SearchPending(Base):
    """An item whose search index entry is still to be written (migration 0007 says why);
    ``n`` counts its queuings, so a change made while its batch was indexed keeps it queued."""

    __tablename__ = "search_pending"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class Watch(Base):
    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    query: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Match(Base):
    """An item matched a watch, once per (item, watch); ``hits`` keeps the terms and spans."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("item_id", "watch_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    hits: Mapped[list | None] = mapped_column(JSON)
    via: Mapped[str | None] = mapped_column(String(10))  # "search": returned by the watch's own search feed
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Delivery(Base):
    """The outbox: an email rendered and recorded before it is sent.

    The unique key on (kind, recipients, period) makes a second send of the same digest period
    impossible, also with two daemons on one database.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("kind", "recipients", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # DeliveryKind
    recipients: Mapped[str] = mapped_column(Text)  # sorted, comma-separated
    period: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(Text, unique=True)
    subject: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryItem(Base):
    """Which items a delivery carried: what a recipient list has already had."""

    __tablename__ = "delivery_items"
    __table_args__ = (Index("ix_delivery_items_recipients_item", "recipients", "item_id"),)

    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    watch_id: Mapped[int | None] = mapped_column(ForeignKey("watches.id", ondelete="SET NULL"))
    recipients: Mapped[str] = mapped_column(Text)  # copied from the delivery for the look-up index


class StoryFeedback(Base):
    """A reader said a story is not relevant to a watch: it leaves that watch, now and later."""

    __tablename__ = "story_feedback"
    __table_args__ = (UniqueConstraint("item_id", "watch_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)  # the story's root
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(20))  # "not_relevant"
    decided_by: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ClusterFeedback(Base):
    """A reader said an article is (or is not) the same story as another: the dedupe link follows."""

    __tablename__ = "cluster_feedback"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    other_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    same: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[str] = mapped_column(String(320))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecipientPref(Base):
    """A recipient muted a watch (``scope`` = its name) or unsubscribed from everything (``*``)."""

    __tablename__ = "recipient_prefs"
    __table_args__ = (UniqueConstraint("recipient", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    scope: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Setting(Base):
    """Values the database keeps for every process that shares it, e.g. the key that signs the
    emails' links when the config names none."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
