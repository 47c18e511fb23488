"""Signed links: what an email's one-click links carry so the web view can act on them without a
sign-in, and refuse them when anything in them was changed.

A signature is an HMAC-SHA256 over the action, the recipient and the target, keyed with the
link secret (the variable ``web.secret_env`` names, else a key the database keeps); it is
compared in constant time. Links do not expire: an unsubscribe link in a year-old email must
still work (RFC 8058), and each action is harmless to repeat.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

ACTIONS = ("not-relevant", "mute", "unsubscribe")


def sign(secret: str, *parts: str) -> str:
    message = "\x1f".join(parts).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")  # 144 bits: short, unguessable


def verify(secret: str, signature: str, *parts: str) -> bool:
    return bool(secret) and hmac.compare_digest(sign(secret, *parts), signature or "")


def action_url(base: str, secret: str, action: str, recipient: str, target: str) -> str:
    """``{base}/act/{action}?to=…&t=…&s=…``: ``target`` is what the action is about (a story and
    watch, a watch's name, ``*``)."""
    query = urlencode({"to": recipient, "t": target, "s": sign(secret, action, recipient, target)})
    return f"{base}/act/{action}?{query}"


def view_url(base: str, secret: str, key: str) -> str:
    """An email's copy in the browser; ``key`` is its Message-ID's unique part."""
    return f"{base}/m/{key}?{urlencode({'s': sign(secret, 'view', key)})}"


def feed_token(secret: str, watch: str) -> str:
    """The token in a watch's Atom feed URL: who has the URL can read the feed, as with Google
    Alerts' RSS delivery."""
    return sign(secret, "atom", watch)
