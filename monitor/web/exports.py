"""The story list as CSV and JSON (what is on screen, every page of it up to EXPORT_MAX), and an
Atom feed per watch behind a token in its URL (Google Alerts' "deliver to RSS")."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .. import signing
from ..i18n import gettext_for
from ..store import stories
from .cards import Card, card
from .pages import Filters
from .render import environment

EXPORT_MAX = 5000
ATOM_ENTRIES = 50
COLUMNS = ("story", "title", "url", "outlet", "published", "watches", "copies", "outlets")


def _cards(request: Request, flt: stories.StoryFilter) -> list[Card]:
    _ = gettext_for(request.app.state.config.locale)
    with request.app.state.db.session() as s:
        found, _total = stories.page(s, flt)
    return [card(x, _) for x in found]


def _row(c: Card) -> dict:
    return {
        "story": c.root, "title": "".join(t for t, _ in c.title), "url": c.url, "outlet": c.outlet,
        "published": c.published.isoformat(), "watches": c.watches, "copies": len(c.copies),
        "outlets": list(dict.fromkeys(x.outlet for x in c.copies)),
    }


def export(request: Request) -> Response:
    f = Filters(request)
    flt = f.story_filter(per_page=EXPORT_MAX)
    rows = [_row(c) for c in _cards(request, flt)]
    if request.path_params["fmt"] == "json":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)  # JSON lines, as the CLI
        return Response(body, media_type="application/x-ndjson; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="stories.jsonl"'})
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV as Chinese only with the BOM
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "watches": " | ".join(r["watches"]), "outlets": " | ".join(r["outlets"])})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="stories.csv"'})


def atom(request: Request) -> Response:
    state = request.app.state
    name = request.path_params["name"]
    if name not in {w.name for w in state.config.watches} or not signing.verify(
            state.secret, request.query_params.get("token", ""), "atom", name):
        raise HTTPException(404)  # the same answer for a wrong token and no such watch
    cards = _cards(request, stories.StoryFilter(watch=name, per_page=ATOM_ENTRIES))
    xml = environment(state.config.locale).get_template("atom.xml").render(
        name=name, cards=cards, base=state.base_url(request), feed_url=str(request.url), now=datetime.now(UTC))
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
