"""Turn a digest or alert (plain dataclasses from ``content.py``) into subject, HTML and text.

Everything that came from a feed is untrusted. Templates are autoescaped, highlighted snippets are
built as escaped segments (never by pasting strings into markup), links are kept only when they
are http(s), and every header value is stripped of CR/LF and control characters and cut short.
The CSS lives in a ``<style>`` block the templates share and is inlined per element with
css-inline, because most mail clients drop ``<style>``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import css_inline
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup, escape

from ..i18n import DEFAULT, translations
from ..text.clean import clean_line, clean_text
from .links import Links

TITLE_MAX = 200  # characters of a title shown; content farms send 1,000-character titles
HEADER_MAX = 180
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")

_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def header_safe(value: str, limit: int = HEADER_MAX) -> str:
    """A header value built from feed data: one line, no control characters, bounded length."""
    value = clean_line(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach an email; ``javascript:``, ``data:`` and the like become no link."""
    if not url:
        return None
    url = url.strip()
    if _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def cut(text: str | None, limit: int = TITLE_MAX) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A figure or code a browser may break at its hyphen or slash (2026-11-24, 688888.SH, A/B): kept on
# one line. Bounded, so that a long URL in a snippet can still wrap.
_JOINED = re.compile(r"[0-9A-Za-z][0-9A-Za-z.,%+]*(?:[-/:][0-9A-Za-z.,%+]+)+")
_JOINED_MAX = 30


def marked(segments) -> Markup:
    """``[(text, highlighted)]`` → escaped HTML with ``<mark>`` around the matched terms (never split
    across lines) and joined figures kept whole."""
    out = []
    for text, hit in segments:
        t = _unbroken(text)
        out.append(Markup('<mark class="hit">{}</mark>').format(t) if hit else t)
    return Markup("").join(out)


def _unbroken(text: str) -> Markup:
    out, pos = [], 0
    for m in _JOINED.finditer(text):
        if m.end() - m.start() > _JOINED_MAX:
            continue
        out += [escape(text[pos:m.start()]), Markup('<span class="nb">{}</span>').format(m.group())]
        pos = m.end()
    out.append(escape(text[pos:]))
    return Markup("").join(out)


HIT_MARK = "**"  # Chinese headlines carry 【】 and 「」 themselves; ** is Markdown's bold in chat


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#<>|~])")


def md(value) -> str:
    """Feed text inside a chat message's Markdown: its own ``*``, ``[``, ``#``… shown as written,
    never as formatting or links. Segments (with hits) come back with the hits in bold."""
    if isinstance(value, list):
        return "".join(f"**{_md_escape(t)}**" if hit else _md_escape(t) for t, hit in value)
    return _md_escape(str(value))


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


def md_url(url: str | None) -> str | None:
    """A link target inside Markdown's ``(…)``: http(s) only, its own parentheses and spaces encoded."""
    url = safe_url(url)
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20") if url else None


def bracketed(segments) -> str:
    """The plain-text part's highlight, ``**term**``: a mark no headline's own punctuation mimics,
    and one that chat channels rendering Markdown show as bold."""
    return "".join(f"{HIT_MARK}{t}{HIT_MARK}" if hit else t for t, hit in segments)


def jinja_environment(loader: BaseLoader, autoescape: Callable[[str | None], bool], locale: str) -> Environment:
    """The settings the emails and the web view share: strict undefined names, every printed value
    through ``printable``, the interface's words from ``locale``'s catalogue."""
    env = Environment(loader=loader, autoescape=autoescape, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, finalize=printable, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def environment(override: Path | None = None, locale: str = DEFAULT) -> Environment:
    """Templates from ``mail.templates`` (if set) win over the bundled ones, file by file; their
    own words come from the message catalogue of ``locale``."""
    loaders: list = [PackageLoader("monitor.mail", "templates")]
    if override is not None:
        loaders.insert(0, FileSystemLoader(str(override)))
    env = jinja_environment(ChoiceLoader(loaders), select_autoescape(["html"], default_for_string=False), locale)
    env.globals["locale"] = locale
    env.filters.update(marked=marked, bracketed=bracketed, safe_url=safe_url, cut=cut, local=_local,
                       md=md, md_url=md_url)
    return env


def printable(value: object) -> object:
    """Every value a template prints, in both parts, without control characters (whatever an
    override template prints, and whatever reached the database before cleaning existed)."""
    if isinstance(value, Markup):
        return Markup(clean_text(value))
    return clean_text(value) if isinstance(value, str) else value


def _local(dt: datetime, tz, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.astimezone(tz).strftime(fmt)


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def subject(template: str, **values) -> str:
    """``digest.subject`` with ``{date}``, ``{count}``, ``{watches}``; unknown fields stay as written."""
    return header_safe(template.format_map(_Blank(values)))


def render_text(env: Environment, name: str, tz, **context) -> str:
    """One text template (a chat channel's Markdown)."""
    return _render(env, name, tz, context).strip() + "\n"


def render(env: Environment, name: str, tz, **context) -> tuple[str, str]:
    """(HTML with inlined CSS, plain text) of ``name.html`` / ``name.txt``."""
    return _inliner.inline(_render(env, f"{name}.html", tz, context)), _render(env, f"{name}.txt", tz, context)


def _render(env: Environment, name: str, tz, context: dict) -> str:
    """Without ``links`` (no web view), a message carries no links of its own."""
    return env.get_template(name).render(**{"links": Links(None, "", ""), "view_url": None, **context, "tz": tz})
