"""The pages: stories, a story, search, feeds, watches, emails. Plain GET handlers that read the
store in a worker thread (Starlette runs sync endpoints in its thread pool), so a slow query
never holds up the daemon's event loop when the view is mounted there."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from markupsafe import escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import QueryError
from ..i18n import gettext_for
from ..pipeline.explain import explain_item
from ..store import deliveries, digests, feedback, feeds, stories
from ..store.matches import docs
from ..store.search import candidates
from ..watch.matcher import Matcher
from ..watch.query import parse_query, query_text
from .cards import card
from .render import page

SEARCH_CANDIDATES = 2000  # newest items verified per search; past that the page says to narrow it
MAX_PAGE = 10_000


class Filters:
    """The story list's filters from the query string; a bad value is reported, not a 500."""

    def __init__(self, request: Request):
        q = request.query_params
        self.tz = request.app.state.config.tz
        self.errors: list[str] = []
        self.watch = q.get("watch") or None
        self.outlet = (q.get("outlet") or "").strip()[:100] or None
        self.since_text, self.until_text = q.get("since", ""), q.get("until", "")
        self.since = self._day(self.since_text)
        until = self._day(self.until_text)
        self.until = until + timedelta(days=1) if until else None  # the whole last day
        self.page = _int(q.get("page"), 1)

    def _day(self, text: str) -> datetime | None:
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.errors.append(text)
            return None
        return datetime.combine(day, time.min, self.tz).astimezone(UTC)

    def story_filter(self, per_page: int = stories.PER_PAGE) -> stories.StoryFilter:
        return stories.StoryFilter(self.watch, self.since, self.until, self.outlet, self.page, per_page)

    def query(self, **changes: object) -> dict[str, object]:
        values: dict[str, object] = {"watch": self.watch, "since": self.since_text, "until": self.until_text,
                                     "outlet": self.outlet, "page": self.page}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)}


def _int(text: str | None, default: int) -> int:
    try:
        return min(max(int(text or default), 1), MAX_PAGE)
    except ValueError:
        return default


def _gettext(request: Request):
    return gettext_for(request.app.state.config.locale)


def stories_page(request: Request) -> Response:
    state, _ = request.app.state, _gettext(request)
    f = Filters(request)
    with state.db.session() as s:
        found, total = stories.page(s, f.story_filter())
        outlets = stories.outlets(s, 100)
    return page(request, "stories.html", cards=[card(x, _) for x in found], total=total, filters=f,
                watches=[w.name for w in state.config.watches], outlets=outlets, per_page=stories.PER_PAGE)


def story_page(request: Request) -> Response:
    state, _ = request.app.state, _gettext(request)
    item_id = request.path_params["item_id"]
    with state.db.session() as s:
        story = stories.story_of(s, item_id)
        if story is None:
            raise HTTPException(404, _("No such story."))
        if story.root != item_id:
            return RedirectResponse(f"/stories/{story.root}#item-{item_id}", status_code=303)
        explained = explain_item(s, state.config, story.shown.id)
        verdicts = feedback.verdicts(s, story.root)
    return page(request, "story.html", c=card(story, _), explained=explained, verdicts=verdicts,
                watches=[w.name for w in state.config.watches])


def search_page(request: Request) -> Response:
    state, _ = request.app.state, _gettext(request)
    q = (request.query_params.get("q") or "").strip()[:500]
    number = _int(request.query_params.get("page"), 1)
    context: dict = dict(q=q, cards=[], total=0, cut=False, error=None, page_no=number, per_page=stories.PER_PAGE)
    if q:
        try:
            node = parse_query(q)
        except QueryError as e:
            context["error"] = str(e)
            return page(request, "search.html", status=400, **context)
        with state.db.session() as s:
            ids, context["cut"] = candidates(s, node, limit=SEARCH_CANDIDATES)
            hits = _verified(s, node, ids)
            root = stories.root_map(s, list(hits))
            first: dict[int, int] = {}
            for item_id in hits:  # newest first: each story by its newest matching copy
                first.setdefault(root[item_id], item_id)
            roots = list(first)
            context["total"] = len(roots)
            shown = roots[(number - 1) * stories.PER_PAGE: number * stories.PER_PAGE]
            by_root = {x.root: x for x in stories.stories(s, shown)}
            context["cards"] = [_search_card(by_root[r], first[r], hits, _) for r in shown if r in by_root]
    return page(request, "search.html", **context)


def _verified(session, node, ids: list[int]) -> dict[int, list]:
    """item → hits, for the candidates the query really matches (the watch matcher decides)."""
    matcher = Matcher([("q", node)])
    out: dict[int, list] = {}
    found = {d.id: d.doc for d in docs(session, ids)}
    for item_id in ids:
        doc = found.get(item_id)
        if doc is None:
            continue
        for result in matcher.match(doc):
            if result.matched:
                out[item_id] = [h.as_json() for h in result.hits]
    return out


def _search_card(story: stories.Story, item_id: int, hits: dict[int, list], _):
    copy = next((c.item for c in story.copies if c.item.id == item_id), story.shown)
    return card(stories.Story(story.root, copy, story.hits, story.copies, story.hidden_from), _, hits[item_id])


def feeds_page(request: Request) -> Response:
    with request.app.state.db.session() as s:
        rows = feeds.feed_views(s)
    return page(request, "feeds.html", feeds=rows, now=datetime.now(UTC))


WATCH_DAYS = 30


def watches_page(request: Request) -> Response:
    state = request.app.state
    config, tz = state.config, state.config.tz
    today = datetime.now(UTC).astimezone(tz).date()
    rows = []
    with state.db.session() as s:
        ids = digests.watch_ids(s, [w.name for w in config.watches])
        for w in config.watches:
            counts = stories.daily(s, ids.get(w.name), tz, today, WATCH_DAYS)
            top = max(counts.values()) or 1
            rows.append(dict(name=w.name, query=query_text(w),
                             recipients=config.people_of(w),
                             alert=w.alert, total=sum(counts.values()),
                             days=[(d, c, round(36 * c / top)) for d, c in counts.items()],
                             atom=state.atom_url(w.name)))
    return page(request, "watches.html", watches=rows)


EMAILS_PER_PAGE = 50


def emails_page(request: Request) -> Response:
    number = _int(request.query_params.get("page"), 1)
    with request.app.state.db.session() as s:
        rows, total = deliveries.newest(s, EMAILS_PER_PAGE, (number - 1) * EMAILS_PER_PAGE)
    return page(request, "emails.html", emails=rows, total=total, page_no=number, per_page=EMAILS_PER_PAGE)


def email_page(request: Request) -> Response:
    with request.app.state.db.session() as s:
        row = deliveries.get(s, request.path_params["delivery_id"])
    if row is None:
        _ = _gettext(request)
        raise HTTPException(404, _("No such email."))
    return page(request, "email.html", email=row)


def email_body(request: Request) -> Response:
    with request.app.state.db.session() as s:
        row = deliveries.get(s, request.path_params["delivery_id"])
    if row is None:
        raise HTTPException(404)
    return sent_copy(row.body_html or text_copy(row.body_text))


def text_copy(text: str) -> str:
    """A chat channel's message (Markdown, no HTML part) shown as the text it was."""
    return f'<!DOCTYPE html><meta charset="utf-8"><pre style="white-space: pre-wrap">{escape(text)}</pre>'


def sent_copy(html: str) -> Response:
    """An email as it was sent, in a sandbox: its HTML runs nothing and loads nothing but images."""
    return Response(html, media_type="text/html", headers={
        "Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                                   "img-src https: data:; style-src 'unsafe-inline'; frame-ancestors 'self'"})
