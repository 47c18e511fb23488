"""config.yaml → validated, typed models.

Every problem is reported as ``FILE:LINE: key.path: what is wrong`` so a user editing a long
config on a server can jump straight to the line. All problems are collected, not just the
first, because fixing one at a time over SSH is tedious.
"""
from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from .durations import parse_duration

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "MONITOR_CONFIG"
DATABASE_ENV = "MONITOR_DATABASE"

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """A config that must not be run. ``problems`` holds one line per fault."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]

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
    def _one_of_query_keywords(self) -> "WatchConfig":
        if (self.query is None) == (self.keywords is None):
            raise ValueError("give either query: or keywords: (exactly one)")
        if self.keywords is not None:
            if not self.keywords or any(not k.strip() for k in self.keywords):
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
        from .cron import cron_trigger

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
    def _smtp_needs_host(self) -> "MailConfig":
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
        try:
            url = make_url(v)
        except Exception:
            raise ValueError(f"{v!r} is not a SQLAlchemy URL like sqlite:///data/monitor.db") from None
        base = (info.context or {}).get("base_dir")
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and base:
            db_path = Path(url.database)
            if not db_path.is_absolute():
                url = url.set(database=str((base / db_path).resolve()))
                return url.render_as_string(hide_password=False)
        return v

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

    def watch(self, name: str) -> WatchConfig:
        for w in self.watches:
            if w.name == name:
                return w
        raise KeyError(name)

    def next_digest(self, now: datetime | None = None) -> datetime:
        from .cron import cron_trigger

        trigger = cron_trigger(self.digest.schedule, self.tz)
        now = now or datetime.now(self.tz)
        return trigger.get_next_fire_time(None, now)


def _resolve(v: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if v is None or base is None or v.is_absolute():
        return v
    return (base / v).resolve()


# ---------------------------------------------------------------------------------------------
# Loading with line numbers


@dataclass
class _Located:
    """Where each key path starts in the YAML file (1-based lines)."""

    lines: dict[KeyPath, int] = field(default_factory=dict)
    duplicates: list[tuple[KeyPath, int, int]] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int:
        # A missing key is reported at its parent, the nearest place the user can fix it.
        for i in range(len(path), -1, -1):
            if path[:i] in self.lines:
                return self.lines[path[:i]]
        return 1


def _walk(node: yaml.Node, path: KeyPath, where: _Located) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                where.duplicates.append((path + (key,), line, seen[key]))
            seen[key] = line
            where.lines[path + (key,)] = line
            _walk(value_node, path + (key,), where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            where.lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), where)


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: Path | str | None = None, *, environ: dict[str, str] | None = None) -> Config:
    """Read, validate and resolve a config file; raise ConfigError listing every fault."""
    env = os.environ if environ is None else environ
    path = Path(path) if path is not None else default_config_path()
    shown = str(path)

    def problem(path_: KeyPath, line: int, msg: str) -> str:
        return f"{shown}:{line}: {format_path(path_)}: {msg}"

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [f"{shown}: no such config file (pass --config PATH or set {CONFIG_ENV})"])
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, [f"{shown}: cannot read config: {e}"])

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, [f"{shown}:{line}: YAML syntax error: {reason}"])
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{shown}:1: the config must be a mapping of keys (timezone:, feeds:, watches:, ...)"])

    where = _Located()
    _walk(node, (), where)
    problems = [
        problem(p, line, f"key given twice (first at line {first}); keep one") for p, line, first in where.duplicates
    ]

    if env.get(DATABASE_ENV):
        data["database"] = env[DATABASE_ENV]

    base_dir = path.resolve().parent
    try:
        config = Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(problem(loc, where.line_of(loc), _message(err)))
        raise ConfigError(path, problems)

    config.source_path = path.resolve()
    config.mail.outbox = config.path(config.mail.outbox)
    if config.mail.templates is not None:
        config.mail.templates = config.path(config.mail.templates)

    problems += _semantic_problems(config, where, problem, env)
    if problems:
        raise ConfigError(path, problems)
    return config


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config.yaml in the repository for the known keys)"
    if kind == "missing":
        return "required key is missing"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _semantic_problems(config: Config, where: _Located, problem, env) -> list[str]:
    """Checks across several keys, which pydantic's per-field errors cannot locate."""
    out: list[str] = []

    def unique(section: str, items: list[Any]) -> None:
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.name in first:
                p = (section, i, "name")
                out.append(
                    problem(
                        p,
                        where.line_of(p),
                        f"duplicate name {item.name!r} (first at line {where.line_of((section, first[item.name], 'name'))})",
                    )
                )
            else:
                first[item.name] = i

    unique("watches", config.watches)
    unique("feeds", config.feeds)
    unique("search_feeds", config.search_feeds)
    feed_names = {f.name for f in config.feeds}
    for i, s in enumerate(config.search_feeds):
        if s.name in feed_names:
            p = ("search_feeds", i, "name")
            out.append(problem(p, where.line_of(p), f"name {s.name!r} is also used by a feed; names must differ"))

    from .query import QueryError, parse_watch

    for i, w in enumerate(config.watches):
        try:
            parse_watch(w)
        except QueryError as e:
            p = ("watches", i, "query")
            out.append(problem(p, where.line_of(p), f"watch {w.name!r}: {e}"))
        if not w.recipients and not config.digest.recipients:
            p = ("watches", i)
            out.append(
                problem(p, where.line_of(p), f"watch {w.name!r} has no recipients and digest.recipients is empty")
            )

    smtp = config.mail.smtp
    if config.mail.transport == "smtp" and smtp and smtp.password_env and not env.get(smtp.password_env):
        p = ("mail", "smtp", "password_env")
        out.append(
            problem(
                p,
                where.line_of(p),
                f"environment variable {smtp.password_env} is not set; export it with the SMTP password "
                "(the password never goes in config.yaml)",
            )
        )
    return out
