"""Canonical article URLs: the same article reached through tracking links, share links or a
Google News redirect gets one URL, so the exact dedupe stage can see it is the same.
"""
from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify the click, not the article.
TRACKING = {
    "spm", "from", "share_token", "share_from", "sharer_shareid", "sharer_sharetime", "scene", "srcid",
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "referer",
    "source", "src", "tt_from", "tt_medium", "wxshare_count", "isappinstalled", "subscene", "clicktime",
    "enterid", "chksm", "mpshare", "sessionid", "ncid", "cmpid", "ocid", "_ga", "_gl", "wfr", "oc",
}
TRACKING_PREFIXES = ("utm_", "ktm_", "source_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci", "mtm_", "pk_")
# Redirect wrappers whose real target is a query parameter.
REDIRECTORS = {
    ("google.com", "/url"): ("url", "q"),
    ("www.google.com", "/url"): ("url", "q"),
    ("news.google.com", "/url"): ("url", "q"),
    ("www.bing.com", "/news/apiclick.aspx"): ("url",),
    ("bing.com", "/news/apiclick.aspx"): ("url",),
}
DEFAULT_PORTS = {"http": "80", "https": "443"}


def unwrap_redirect(url: str) -> str:
    """Follow known redirect wrappers (Google Alerts, Bing News clicks, Google News article tokens
    that carry their URL) to the article URL."""
    for _ in range(3):  # wrappers inside wrappers happen; a bound keeps it finite
        decoded = google_news_target(url)
        if decoded:
            url = decoded
            continue
        parts = urlsplit(url)
        keys = REDIRECTORS.get((parts.hostname or "", parts.path))
        if not keys:
            return url
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        target = next((params[k] for k in keys if params.get(k, "").startswith(("http://", "https://"))), None)
        if target is None:
            return url
        url = unquote(target) if "%3A" in target[:10] else target
    return url


def canonical_url(url: str | None) -> str | None:
    if not url:
        return None
    url = unwrap_redirect(url.strip())
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port is not None else None
    netloc = host if port is None or str(port) == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


GOOGLE_NEWS_ARTICLE = "/rss/articles/"


def google_news_target(url: str | None) -> str | None:
    """The publisher URL inside a Google News article link, where the token carries it.

    The older tokens ("CBMi…") are base64 of a small protobuf whose first string field is the
    article's URL, so they decode offline; the newer ones ("CBMi…AU_yqL…") are opaque ids that only
    Google can resolve, and for those None is returned (the link is kept as it is)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.hostname != "news.google.com" or not parts.path.startswith(GOOGLE_NEWS_ARTICLE):
        return None
    token = parts.path[len(GOOGLE_NEWS_ARTICLE):].split("/")[0]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return None
    at = raw.find(b"\x22")  # field 4, length-delimited: the URL
    if at < 0 or at + 2 > len(raw):
        return None
    length, start = _varint(raw, at + 1)
    target = raw[start:start + length]
    if length < 12 or len(target) != length or not target.startswith((b"http://", b"https://")):
        return None
    try:
        text = target.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if all(0x21 <= ord(c) < 0x7F for c in text) else None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while pos < len(data) and shift < 35:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
    return value, pos
