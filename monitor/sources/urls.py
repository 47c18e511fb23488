"""Canonical article URLs: the same article reached through tracking links, share links or a
Google News redirect gets one URL, so the exact dedupe stage can see it is the same.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify the click, not the article.
TRACKING = {
    "spm", "from", "share_token", "share_from", "sharer_shareid", "sharer_sharetime", "scene", "srcid",
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "referer",
    "source", "src", "tt_from", "tt_medium", "wxshare_count", "isappinstalled", "subscene", "clicktime",
    "enterid", "chksm", "mpshare", "sessionid", "ncid", "cmpid", "ocid", "_ga", "_gl", "wfr", "oc",
}
TRACKING_PREFIXES = ("utm_", "hmsr", "hmpl", "hmcu", "hmkw", "hmci", "mtm_", "pk_")
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
    """Follow known redirect wrappers (Google Alerts, Bing News clicks) to the article URL."""
    for _ in range(3):  # wrappers inside wrappers happen; a bound keeps it finite
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
