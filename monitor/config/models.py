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

from .durations import format_duration, parse_duration
from .schedule import cron_trigger, next_fire


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _at_most(longest: timedelta, what: str) -> Any:
    def check(value: Any) -> timedelta:
        td = _duration(value)
        if td > longest:
            raise ValueError(f"{value!r} is too long for {what} (at most {format_duration(longest)})")
        return td
    return BeforeValidator(check)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Interval = Annotated[timedelta, _at_most(timedelta(days=30), "an interval")]
Timeout = Annotated[timedelta, _at_most(timedelta(minutes=10), "a timeout")]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a name must be a non-empty string")
    if _CONTROL.search(value) or len(value) > 200:
        raise ValueError(f"{value[:40]!r}: a name is at most 200 characters, without control characters")
    return value


def _path(value: Any) -> Any:
    if isinstance(value, str) and (_CONTROL.search(value) or len(value) > 4096):
        raise ValueError(f"{value[:40]!r} is not a usable path (control characters, or too long)")
    return value


Name = Annotated[str, BeforeValidator(_name)]
SafePath = Annotated[Path, BeforeValidator(_path)]

_DB_URL = re.compile(r"^(?P<backend>[A-Za-z][\w+]*)://")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _email(value: Any) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError(f"{value!r} is not an email address like analyst@example.com")
    return value.strip()


Email = Annotated[str, BeforeValidator(_email)]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)


def _notify_url(value: object) -> str:
    """An Apprise URL (wecombot://, dingtalk://, feishu://, slack://, json://…). Secrets are written
    as ``${VARIABLE}`` and read from the environment when a message is sent: the config, the
    database and the logs only ever hold the reference."""
    if not isinstance(value, str) or not _SCHEME.match(value.strip()):
        raise ValueError(f"{value!r} is not a notification URL like wecombot://${{WECOM_BOT_KEY}} or "
                         "json://host/path (see https://github.com/caronc/apprise/wiki)")
    value = value.strip()
    if _CONTROL.search(value) or len(value) > 2000 or "," in value:
        raise ValueError("a notification URL is at most 2,000 characters, without commas or control characters")
    return value


NotifyUrl = Annotated[str, BeforeValidator(_notify_url)]


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
    name: Name
    url: str = ""  # or rsshub:
    rsshub: str | None = None  # an RSSHub route such as /cls/telegraph, on the instance rsshub_url names
    interval: Interval | None = None  # default: the top-level poll_interval
    encoding: str | None = None  # override when a feed lies about its charset
    full_text: bool = False  # fetch each new item's page and extract the article
    enabled: bool = True
    source: Name | None = None  # the outlet for entries that name none (else the channel title, cleaned)
    category: Name | None = None  # a folder for OPML export and import (feed readers group by it)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v) if v else v

    @field_validator("rsshub")
    @classmethod
    def _route(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("/") or _CONTROL.search(v) or " " in v or len(v) > 500):
            raise ValueError(f"{v!r} is not an RSSHub route like /cls/telegraph (see https://docs.rsshub.app)")
        return v

    @model_validator(mode="after")
    def _url_or_route(self) -> FeedConfig:
        if bool(self.url) == bool(self.rsshub):
            raise ValueError("give either url: or rsshub: (exactly one)")
        return self

    @field_validator("encoding")
    @classmethod
    def _enc(cls, v: str | None) -> str | None:
        return _check_encoding(v)


def _check_selector(selector: str) -> None:
    """A selector the page reader (selectolax) cannot compile is a config error, not a poll error."""
    from selectolax.lexbor import LexborHTMLParser

    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as e:  # selectolax raises its own bare exception types
        raise ValueError(f"{selector!r} is not a CSS selector: {e}") from None


class PageConfig(_Strict):
    """A web page without a feed, read by CSS selectors (sources/pages.py)."""

    name: Name
    url: str
    item: str  # each entry's element on the list page, e.g. "ul.list li"
    title: str  # inside an item: the title's element (its text, or its title="" when that is longer)
    link: str | None = None  # inside an item: the link's element (default: the title's, or a link in it)
    date: str | None = None  # inside an item: the date's element
    date_format: str | None = None  # strptime format; default: 2026-11-24, 2026年11月24日, 11-24 …
    summary: str | None = None
    interval: Interval | None = None
    encoding: str | None = None
    full_text: bool = False  # fetch each new item's page and extract the article
    enabled: bool = True
    source: Name | None = None  # the outlet (default: the page's title)
    category: Name | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    @field_validator("item", "title", "link", "date", "summary")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        if v is not None:
            if _CONTROL.search(v) or len(v) > 500:
                raise ValueError("a selector is at most 500 characters, without control characters")
            _check_selector(v)
        return v

    @field_validator("encoding")
    @classmethod
    def _enc(cls, v: str | None) -> str | None:
        return _check_encoding(v)


class SearchFeedConfig(_Strict):
    """A URL template; one feed is made per watch with ``{query}`` filled in (URL-encoded)."""

    name: Name
    url: str
    interval: Interval | None = None
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


def _check_cron(v: str) -> str:
    if len(v.split()) != 5 or len(v) > 60:
        raise ValueError(f"{v!r} is not a 5-field cron expression like '0 8 * * *'")
    try:
        trigger = cron_trigger(v)
    except ValueError as e:
        raise ValueError(f"bad cron expression {v!r}: {e}") from None
    if trigger.get_next_fire_time(None, datetime.now(trigger.timezone)) is None:
        raise ValueError(f"{v!r} never fires (no such date, e.g. 31 February): no digest would ever be sent")
    return v


class WatchConfig(_Strict):
    name: Name
    query: str | None = None
    keywords: list[str] | None = None  # shorthand: any of these
    alert: Literal["digest", "immediate"] = "digest"
    digest: bool | None = None  # immediate watches: also list the items in the digest?
    recipients: list[Email] | None = None  # default: digest.recipients
    notify: list[NotifyUrl] | None = None  # chat channels (Apprise URLs); default: digest.notify
    search: bool = True  # build search feeds for this watch from search_feeds
    # When its digest goes out: daily (digest.schedule, the default), weekly (that time on Mondays)
    # or a cron expression. A person gets one email per distinct schedule of their watches.
    schedule: str | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return v if v is None or v in ("daily", "weekly") else _check_cron(v)

    @model_validator(mode="after")
    def _one_of_query_keywords(self) -> WatchConfig:
        if (self.query is None) == (self.keywords is None):
            raise ValueError("give either query: or keywords: (exactly one)")
        if self.keywords is not None and (not self.keywords or any(not k.strip() for k in self.keywords)):
            raise ValueError("keywords: must be a non-empty list of non-empty strings")
        if self.query is not None and not self.query.strip():
            raise ValueError("query: is empty")
        for text in [self.query or "", *(self.keywords or [])]:
            if _CONTROL.search(text) or len(text) > 2000:
                raise ValueError("a query is at most 2,000 characters, without control characters")
        return self

    @property
    def in_digest(self) -> bool:
        return self.alert == "digest" or bool(self.digest)


class DigestConfig(_Strict):
    schedule: str = "0 8 * * *"
    recipients: list[Email] = []
    notify: list[NotifyUrl] = []  # chat channels getting every digest and alert, like recipients
    subject: str = "新闻监控日报 {date}"
    send_empty: bool = False
    # Items per watch shown in full (snippet, outlets); the rest are listed as linked titles, so a
    # catch-up after days away stays readable (and under Gmail's 102 KB clipping) yet skips nothing.
    full_items: int = Field(default=25, ge=1, le=1000)
    # Stories listed per watch in one email, newest first. Older ones are counted, named by a
    # command that lists them, and count as delivered: one email stays bounded in size and in the
    # memory it takes to compose, whatever a broad watch or a week away has piled up.
    max_items: int = Field(default=200, ge=1, le=10_000)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        return _check_cron(v)


class SmtpConfig(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = None  # the NAME of the environment variable holding the password
    timeout: Timeout = timedelta(seconds=30)


class WebUser(_Strict):
    name: Name
    password_hash: str  # `monitor web hash-password` makes one; the password itself never goes here


class WebConfig(_Strict):
    """The web view: stories, search, feedback, and the target of the emails' links."""

    listen: str = "127.0.0.1:8080"  # HOST:PORT; anything but loopback requires sign-in
    base_url: str | None = None  # how readers reach it, e.g. https://monitor.example.com: emails link here
    secret_env: str | None = None  # the NAME of the variable holding the key for sessions and signed links
    token_env: str | None = None  # the NAME of a variable holding a sign-in token (instead of users)
    users: list[WebUser] = []

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        return _check_http_url(v).rstrip("/") if v is not None else None

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{v!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
        return v


class MailConfig(_Strict):
    from_: Email = Field(alias="from")
    transport: Literal["file", "smtp"] = "file"
    outbox: SafePath = Path("outbox")
    smtp: SmtpConfig | None = None
    templates: SafePath | None = None  # a folder whose templates override the bundled ones
    alert_subject: str = "[新闻提醒] {watches}: {count} 条"  # fields: {watches}, {count}, {date}

    @model_validator(mode="after")
    def _smtp_needs_host(self) -> MailConfig:
        if self.transport == "smtp" and self.smtp is None:
            raise ValueError("transport: smtp needs an smtp: section with at least host:")
        return self


class FetchConfig(_Strict):
    concurrency: int = Field(20, ge=1, le=500)
    per_host: int = Field(4, ge=1, le=100)
    connect_timeout: Timeout = timedelta(seconds=10)
    read_timeout: Timeout = timedelta(seconds=30)
    max_bytes: int = Field(20 * 1024 * 1024, ge=1024, le=1024**3)
    max_interval: Interval = timedelta(hours=24)  # cap for back-off, ttl and max-age


class Config(_Strict):
    timezone: str = "Asia/Shanghai"
    database: str = "sqlite:///data/monitor.db"
    seeds: SafePath | None = Path("seeds")
    poll_interval: Interval = timedelta(minutes=30)
    retention: Duration | None = None  # drop non-seed items older than this; None keeps all
    # An item published this long before it was first seen is back catalogue, not news.
    max_age: Duration = timedelta(days=30)
    fetch: FetchConfig = FetchConfig()
    search_feeds: list[SearchFeedConfig] = []
    feeds: list[FeedConfig] = []
    pages: list[PageConfig] = []
    rsshub_url: str = "https://rsshub.app"  # the RSSHub instance rsshub: routes are read from (self-host for volume)
    watches: list[WatchConfig] = []
    digest: DigestConfig = DigestConfig()
    mail: MailConfig
    web: WebConfig = WebConfig()
    locale: Literal["zh-CN", "en"] = "zh-CN"  # the language of the web view and the emails' own words

    # Set by load_config, not read from YAML.
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("rsshub_url")
    @classmethod
    def _rsshub(cls, v: str) -> str:
        return _check_http_url(v).rstrip("/")

    @model_validator(mode="after")
    def _rsshub_routes(self) -> Config:
        """``rsshub: /route`` becomes the feed's URL on the configured instance."""
        for f in self.feeds:
            if f.rsshub and not f.url:
                f.url = self.rsshub_url + f.rsshub
        return self

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name longer than a file name
            raise ValueError(f"unknown time zone {v[:60]!r} (use an IANA name such as Asia/Shanghai)") from None
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

    def people_of(self, watch: WatchConfig) -> list[str]:
        """Who gets the watch by email: its own ``recipients`` when given (``[]``: nobody), else the digest's."""
        return list(self.digest.recipients if watch.recipients is None else watch.recipients)

    def channels_of(self, watch: WatchConfig) -> list[str]:
        """Its chat channels: its own ``notify`` when given (``[]``: none), else the digest's."""
        return list(self.digest.notify if watch.notify is None else watch.notify)

    def schedule_of(self, watch: WatchConfig) -> str:
        """The cron expression of a watch's digest."""
        if watch.schedule in (None, "daily"):
            return self.digest.schedule
        if watch.schedule == "weekly":  # digest.schedule's time of day on Mondays, when it has one
            minute, hour = self.digest.schedule.split()[:2]
            return f"{minute} {hour} * * 1" if minute.isdigit() and hour.isdigit() else "0 8 * * 1"
        return watch.schedule

    @property
    def digest_schedules(self) -> list[str]:
        """Every schedule a digest goes out on, digest.schedule first."""
        used = dict.fromkeys([self.digest.schedule] + [self.schedule_of(w) for w in self.watches if w.in_digest])
        return list(used)


def _resolve(v: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if v is None or base is None or v.is_absolute():
        return v
    return (base / v).resolve()


