"""The Chinese catalogue is complete and compiled: every message the code and templates use has
its Chinese with the same placeholders, the committed .mo says what the .po says, and the
default locale renders Chinese."""
from __future__ import annotations

import gettext
import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from helpers.paths import REPO

from monitor.i18n import DOMAIN, FOLDER, gettext_for, translations

PO = FOLDER / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[ds]")


def catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def used_ids() -> set[str]:
    method_map = [("monitor/**.py", "python"), ("monitor/**/templates/**.html", "jinja2"),
                  ("monitor/**/templates/**.txt", "jinja2"), ("monitor/**/templates/**.xml", "jinja2")]
    options = {"monitor/**/templates/**": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_used_has_its_chinese_with_the_same_placeholders():
    cat = catalogue()
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in cat if m.id}
    missing = sorted(used_ids() - set(ids))
    assert not missing, f"run `make messages` and translate: {missing}"
    for key, m in ids.items():
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"no Chinese for {key!r}"
        want = set(PLACEHOLDER.findall(m.id[-1] if isinstance(m.id, tuple) else m.id))
        assert all(set(PLACEHOLDER.findall(s)) == want for s in strings), f"placeholders differ in {key!r}"


def test_the_compiled_catalogue_is_the_po():
    with open(PO.with_suffix(".mo"), "rb") as f:
        compiled = gettext.GNUTranslations(f)
    for m in catalogue():
        if m.id and not isinstance(m.id, tuple):
            assert compiled.gettext(m.id) == m.string, f"{m.id!r}: run `make messages`"


def test_chinese_is_the_default_and_english_the_ids():
    assert gettext_for()("Stories") == "报道"
    assert translations().ngettext("%(num)d story", "%(num)d stories", 5) % {"num": 5} == "5 条报道"
    assert gettext_for("en")("Stories") == "Stories"
