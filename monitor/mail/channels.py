"""Chat channels and webhooks through Apprise: 企业微信 and 钉钉 bots, 飞书, Slack, Teams, Telegram,
generic JSON webhooks, one URL each.

A channel is an outbox address like an email address: a digest or alert for it is recorded in
``deliveries`` with the URL as written in the config (secrets as ``${VARIABLE}``), rendered as
compact Markdown, and sent, retried with back-off and listed by ``monitor outbox`` exactly as an
email is. The variables are filled in only here, at the moment of sending.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

from ..errors import DeliveryError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TITLE_MAX = 250
_BODY_MAX = 20_000  # characters of one message in all; each service's own limit is met by splitting


def is_channel(address: str) -> bool:
    """An outbox address is a channel when it is a URL (email addresses have no scheme)."""
    return "://" in address


def shown(url: str) -> str:
    """The URL fit for an error message: as written when its secrets are ``${VARIABLE}``
    references, else only its scheme (a bot URL's host and path are often the token itself)."""
    return url if _REF.search(url) else url.partition("://")[0] + "://…"


def display(address: str) -> str:
    """Any outbox address fit to print: a person's as it is, a channel's through ``shown``."""
    return shown(address) if is_channel(address) else address


def expand(url: str, env: Mapping[str, str] | None = None) -> str:
    """``${VARIABLE}`` references filled in from the environment."""
    values = os.environ if env is None else env
    missing = [name for name in _REF.findall(url) if not values.get(name)]
    if missing:
        raise DeliveryError(f"channel {shown(url)}: environment variable {', '.join(missing)} is not set "
                            "(the config names it for this channel's URL)")
    return _REF.sub(lambda m: values[m.group(1)], url)


def send(url: str, title: str, body: str, env: Mapping[str, str] | None = None) -> None:
    """Deliver one message or raise ``DeliveryError`` with Apprise's own reason. An URL no Apprise
    plugin takes is a permanent failure (the config needs fixing); anything else is retried."""
    import apprise  # only a process that sends to a channel pays for Apprise's plugins

    target = expand(url, env)
    notifier = notifier_for(target)
    if notifier is None:
        raise DeliveryError(f"channel {shown(url)}: not a URL Apprise can send to "
                            "(see https://github.com/caronc/apprise/wiki for the services and their URLs)",
                            permanent=True)
    with apprise.LogCapture(level=logging.WARNING) as said:
        ok = notifier.notify(title=title[:_TITLE_MAX], body=body[:_BODY_MAX],
                             body_format=apprise.NotifyFormat.MARKDOWN)
    if not ok:
        reason = " ".join(line.strip() for line in said.getvalue().splitlines()[-2:]) or "refused"
        raise DeliveryError(f"channel {shown(url)}: {_redact(reason, target, url)}")


def notifier_for(target: str):  # -> apprise.Apprise | None (imported lazily)
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(target):
        return None
    for service in notifier:
        # Apprise passes an over-long body on as it is by default (企业微信 text takes ~2 KB, Telegram
        # 4,096 characters): split it into messages each service takes, unless the URL says otherwise.
        if "overflow=" not in target:
            service.overflow_mode = apprise.common.OverflowMode.SPLIT
    return notifier


def _redact(text: str, target: str, url: str) -> str:
    """Apprise's messages may quote the expanded URL: put the reference back."""
    return text.replace(target, url)[:500]
