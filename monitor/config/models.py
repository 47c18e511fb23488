"""The config's typed models: what each key means, its default, and the checks one key can make
on its own (checks across keys are the loader's)."""
from __future__ import annotations

import codecs
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .durations import parse_duration
from .schedule import cron_trigger, next_fire


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]

_DB_URL = re.compile(r"^(?P<backend>[A-Za-z][\w+]*)://")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError(f"{value!r} is not an email address like analyst@example.com")
    return value.strip()


Email = Annotated[str, BeforeValidator(_email)]


def _check_encoding(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r} (try gb18030, big5hkscs or utf-8)") from None
    return value


def _check_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FeedConfig(_Strict):
    name: str = Field(min_length=1)
    url: str
    interval: Duration | None = None  # default: the top-level poll_interval
    encoding: str | None = None  # override when a feed lies about its charset
    full_text: bool = False  # fetch each new item's page and extract the article
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("encoding")
    @classmethod
    def _enc(cls, v: str | None) -> str | None:
        return _check_encoding(v)


class SearchFeedConfig(_Strict):
    """A URL template; one feed is made per watch with ``{query}`` filled in (URL-encoded)."""

    name: str = Field(min_length=1)
    url: str
    interval: Duration | None = None
    encoding: str | None = None
    enabled: bool = True

    @field_validator("encoding")
    @classmethod
    def _enc(cls, v: str | None) -> str | None:
        return _check_encoding(v)

    @field_validator("url")
    @classmethod
    def _has_query(cls, v: str) -> str:
        _check_http_url(v)
        if "{query}" not in v:
            raise ValueError("a search feed URL needs a {query} placeholder where the search terms go")
        return v


class WatchConfig(_Strict):
    name: str = Field(min_length=1)
    query: str | None = None
    keywords: list[str] | None = None  # shorthand: any of these
    alert: Literal["digest", "immediate"] = "digest"
    digest: bool | None = None  # immediate watches: also list the items in the digest?
    recipients: list[Email] | None = None  # default: digest.recipients
    search: bool = True  # build search feeds for this watch from search_feeds

    @model_validator(mode="after")
    def _one_of_query_keywords(self) -> WatchConfig:
        if (self.query is None) == (self.keywords is None):
            raise ValueError("give either query: or keywords: (exactly one)")
        if self.keywords is not None and (not self.keywords or any(not k.strip() for k in self.keywords)):
            raise ValueError("keywords: must be a non-empty list of non-empty strings")
        if self.query is not None and not self.query.strip():
            raise ValueError("query: is empty")
        return self

    @property
    def in_digest(self) -> bool:
        return self.alert == "digest" or bool(self.digest)


class DigestConfig(_Strict):
    schedule: str = "0 8 * * *"
    recipients: list[Email] = []
    subject: str = "新闻监控日报 {date}"
    send_empty: bool = False
    # Items per watch shown in full (snippet, outlets); the rest are listed as linked titles, so a
    # catch-up after days away stays readable (and under Gmail's 102 KB clipping) yet skips nothing.
    full_items: int = Field(default=25, ge=1)
    # Stories listed per watch in one email, newest first. Older ones are counted, named by a
    # command that lists them, and count as delivered: one email stays bounded in size and in the
    # memory it takes to compose, whatever a broad watch or a week away has piled up.
    max_items: int = Field(default=200, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError(f"{v!r} is not a 5-field cron expression like '0 8 * * *'")
        try:
            cron_trigger(v)
        except ValueError as e:
            raise ValueError(f"bad cron expression {v!r}: {e}") from None
        return v


class SmtpConfig(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = None  # the NAME of the environment variable holding the password
    timeout: Duration = timedelta(seconds=30)


class MailConfig(_Strict):
    from_: Email = Field(alias="from")
    transport: Literal["file", "smtp"] = "file"
    outbox: Path = Path("outbox")
    smtp: SmtpConfig | None = None
    templates: Path | None = None  # a folder whose templates override the bundled ones
    alert_subject: str = "[新闻提醒] {watches}: {count} 条"  # fields: {watches}, {count}, {date}

    @model_validator(mode="after")
    def _smtp_needs_host(self) -> MailConfig:
        if self.transport == "smtp" and self.smtp is None:
            raise ValueError("transport: smtp needs an smtp: section with at least host:")
        return self


class FetchConfig(_Strict):
    concurrency: int = Field(20, ge=1, le=500)
    per_host: int = Field(4, ge=1, le=100)
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=30)
    max_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    max_interval: Duration = timedelta(hours=24)  # cap for back-off, ttl and max-age


class Config(_Strict):
    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///data/monitor.db"
    seeds: Path | None = Path("seeds")
    poll_interval: Duration = timedelta(minutes=30)
    retention: Duration | None = None  # drop non-seed items older than this; None keeps all
    fetch: FetchConfig = FetchConfig()
    search_feeds: list[SearchFeedConfig] = []
    feeds: list[FeedConfig] = []
    watches: list[WatchConfig] = []
    digest: DigestConfig = DigestConfig()
    mail: MailConfig

    # Set by load_config, not read from YAML.
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("database")
    @classmethod
    def _db_url(cls, v: str, info: ValidationInfo) -> str:
        m = _DB_URL.match(v)
        if not m:
            raise ValueError(f"{v!r} is not a SQLAlchemy URL like sqlite:///data/monitor.db")
        base = (info.context or {}).get("base_dir")
        if m.group("backend").split("+")[0].lower() != "sqlite" or base is None:
            return v
        # sqlite:///relative/path resolves against the config file's folder, not the cwd.
        path, sep, query = v[m.end():].removeprefix("/").partition("?")
        if not path or path == ":memory:" or path.startswith("/"):
            return v
        return f"{v[:m.end()]}/{(base / path).resolve()}{sep}{query}"

    @field_validator("seeds")
    @classmethod
    def _seeds_path(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(v, info)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent if self.source_path else Path.cwd()

    def path(self, p: Path) -> Path:
        """Resolve a path from the config against the config file's folder."""
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def next_digest(self, now: datetime | None = None) -> datetime:
        return next_fire(self.digest.schedule, self.tz, now or datetime.now(self.tz))


def _resolve(v: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if v is None or base is None or v.is_absolute():
        return v
    return (base / v).resolve()


