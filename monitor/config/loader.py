"""config.yaml → a validated ``Config``.

Every problem is reported as ``FILE:LINE: key.path: what is wrong`` so a user editing a long
config on a server can jump straight to the line. All problems are collected, not just the
first, because fixing one at a time over SSH is tedious.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, QueryError
from ..watch.query import parse_watch
from .models import Config

DEFAULT_CONFIG = "config.yaml"
CONFIG_ENV = "MONITOR_CONFIG"
DATABASE_ENV = "MONITOR_DATABASE"

KeyPath = tuple[str | int, ...]
Problem = Callable[[KeyPath, int, str], str]


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


def load_config(path: Path | str | None = None, *, environ: dict[str, str] | None = None,
                text: str | None = None) -> Config:
    """Read, validate and resolve a config file; raise ConfigError listing every fault.
    ``text``: the file's content as already read. The daemon's job processes get the text their
    parent validated, not whatever the file holds now (an edit takes effect on SIGHUP, as before);
    ``path`` still resolves relative paths and names the file in messages."""
    env = os.environ if environ is None else environ
    path = Path(path) if path is not None else default_config_path()
    shown = str(path)

    def problem(path_: KeyPath, line: int, msg: str) -> str:
        return f"{shown}:{line}: {format_path(path_)}: {msg}"

    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except FileNotFoundError:
        raise ConfigError(path, [f"{shown}: no such config file (pass --config PATH or set {CONFIG_ENV})"],
                          missing=True) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, [f"{shown}: cannot read config: {e}"]) from None

    node, data = _parse_yaml(path, shown, text)
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{shown}:1: the config must be a mapping of keys (timezone:, feeds:, watches:, ...)"])

    where = _Located()
    if node is not None:
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
            problems.append(problem(loc, where.line_of(loc), _message(dict(err))))
        raise ConfigError(path, problems) from None

    config.source_path = path.resolve()
    config.mail.outbox = config.path(config.mail.outbox)
    if config.mail.templates is not None:
        config.mail.templates = config.path(config.mail.templates)

    problems += _semantic_problems(config, where, problem, env)
    if problems:
        raise ConfigError(path, problems)
    return config


MAX_VALUES = 100_000  # a config has hundreds; a "billion laughs" of aliases has billions
MAX_DEPTH = 50


def _parse_yaml(path: Path, shown: str, text: str) -> tuple[yaml.Node | None, Any]:
    """One parse, with what aliases expand to bounded before anything walks the values: a 1 KB
    alias bomb otherwise grows without limit in the walks that follow."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(path, shown, node)
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, [f"{shown}:{line}: YAML syntax error: {reason}"]) from None
    except RecursionError:
        raise ConfigError(path, [f"{shown}: nested too deeply to be a config"]) from None
    finally:
        loader.dispose()


def _check_size(path: Path, shown: str, root: yaml.Node) -> None:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:  # an alias: its node's expanded size is known
            return sizes[id(node)]
        if depth > MAX_DEPTH:
            raise ConfigError(path, [f"{shown}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels"])
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1 + sum(size(c, depth + 1) for c in children)
        if total > MAX_VALUES:
            raise ConfigError(path, [f"{shown}:{node.start_mark.line + 1}: more than {MAX_VALUES:,} values once "
                                     "aliases are expanded: refusing it (an alias bomb?)"])
        sizes[id(node)] = total
        return total

    size(root, 0)


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1]) if err.get("loc") else ""
        close = difflib.get_close_matches(key, sorted(_known_keys(Config)), n=1, cutoff=0.7)
        hint = f"did you mean {close[0]!r}?" if close else "check the spelling"
        return f"unknown key ({hint} config.yaml in the repository lists the known keys)"
    if kind == "missing":
        return "required key is missing"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _known_keys(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every key any section of the config takes: what an unknown key is compared with."""
    seen = seen if seen is not None else set()
    seen.add(model)
    keys: set[str] = set()
    for name, f in model.model_fields.items():
        keys.add(f.alias or name)
        for sub in _models_in(f.annotation):
            if sub not in seen:
                keys |= _known_keys(sub, seen)
    return keys


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _semantic_problems(config: Config, where: _Located, problem: Problem, env) -> list[str]:
    """Checks across several keys, which pydantic's per-field errors cannot locate."""
    p: KeyPath
    out: list[str] = []

    def unique(section: str, items: list[Any]) -> None:
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.name not in first:
                first[item.name] = i
                continue
            p = (section, i, "name")
            earlier = where.line_of((section, first[item.name], "name"))
            out.append(problem(p, where.line_of(p), f"duplicate name {item.name!r} (first at line {earlier})"))

    unique("watches", config.watches)
    unique("feeds", config.feeds)
    unique("pages", config.pages)
    unique("search_feeds", config.search_feeds)
    feed_names = {f.name for f in config.feeds}
    for i, s in enumerate(config.search_feeds):
        if s.name in feed_names:
            p = ("search_feeds", i, "name")
            out.append(problem(p, where.line_of(p), f"name {s.name!r} is also used by a feed; names must differ"))
    for i, page in enumerate(config.pages):
        if page.name in feed_names:
            p = ("pages", i, "name")
            out.append(problem(p, where.line_of(p), f"name {page.name!r} is also used by a feed; names must differ"))

    for i, w in enumerate(config.watches):
        try:
            parse_watch(w)
        except QueryError as e:
            p = ("watches", i, "query")
            out.append(problem(p, where.line_of(p), f"watch {w.name!r}: {e}"))
        if not (config.people_of(w) or config.channels_of(w)):
            p = ("watches", i)
            out.append(problem(p, where.line_of(p), f"watch {w.name!r} has no recipients and digest.recipients "
                                                    "is empty (or give notify: channels)"))

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
    for key in ("secret_env", "token_env"):
        name = getattr(config.web, key)
        if name and not env.get(name):
            p = ("web", key)
            what = "the key that signs links and sessions" if key == "secret_env" else "the sign-in token"
            out.append(problem(p, where.line_of(p), f"environment variable {name} is not set; export it with "
                                                    f"{what} (secrets never go in config.yaml)"))
    return out
