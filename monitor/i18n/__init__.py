"""The interface's own words in the reader's language, from one gettext catalogue: the web pages
and the emails (headers, "also reported by", chart legends, footers) alike. Message ids are
English; ``locale/zh_CN`` holds the Chinese, the default.

``make messages`` extracts the ids from the code and templates (Babel) and updates the
catalogue; the compiled ``.mo`` sits beside the ``.po`` so an install needs no build step.
"""
from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT = "zh-CN"
DOMAIN = "monitor"
FOLDER = Path(__file__).resolve().parent / "locale"


@cache
def translations(locale: str = DEFAULT) -> gettext.NullTranslations:
    """English is the message ids themselves; any other locale reads its catalogue."""
    if locale == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(FOLDER), languages=[locale.replace("-", "_")])


def gettext_for(locale: str = DEFAULT):
    return translations(locale).gettext
