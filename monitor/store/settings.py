"""Values every process sharing the database must agree on."""
from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import Setting

LINK_KEY = "link_secret"


def link_secret(session: Session) -> str:
    """The key that signs the emails' links and the web sessions when the config names no
    variable for one: made once, on first use, and kept, so links in old emails still work. Two
    processes racing to make it agree on the one that was stored first."""
    row = session.get(Setting, LINK_KEY)
    if row is not None:
        return row.value
    try:
        with session.begin_nested():
            session.add(Setting(key=LINK_KEY, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass
    stored = session.get(Setting, LINK_KEY, populate_existing=True)
    assert stored is not None
    return stored.value
