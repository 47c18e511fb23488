"""What readers do: feedback from the pages (a signed-in or local user, CSRF-checked forms) and
from the emails' signed one-click links (no sign-in: the signature is the permission).

A signed link opened in a browser shows a confirmation page whose button POSTs to the same URL;
mail clients and link scanners that only GET change nothing. A POST acts at once, which is what
RFC 8058 one-click unsubscribe needs (the mail client POSTs ``List-Unsubscribe=One-Click``).
"""
from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import signing
from ..i18n import gettext_for
from ..store import digests, feedback
from ..store.items import item_view
from .auth import LOCAL_USER, csrf_ok
from .render import page


async def checked_form(request: Request) -> dict[str, str]:
    """The form's fields, or 403 when its CSRF token is not this session's."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not csrf_ok(request.session, fields.get("csrf")):
        _ = gettext_for(request.app.state.config.locale)
        raise HTTPException(403, _("This form has expired or did not come from this site. Reload the page and try "
                                   "again."))
    return fields


def _who(request: Request) -> str:
    return str(request.session.get("user") or f"{LOCAL_USER} ({request.client.host if request.client else '?'})")


def _watch_id(db, name: str, locale: str) -> int:
    with db.session() as s:
        found = digests.watch_ids(s, [name])
    if name not in found:
        _ = gettext_for(locale)
        raise HTTPException(400, _("No watch is called %(name)s.") % {"name": name})
    return found[name]


def _back(request: Request, default: str) -> RedirectResponse:
    target = request.headers.get("referer") or default
    host = request.headers.get("host", "")
    # Only back to this site: a forged Referer must not turn the redirect into an open one.
    if not (target.startswith("/") and not target.startswith("//")) and f"//{host}/" not in target + "/":
        target = default
    return RedirectResponse(target, status_code=303)


async def not_relevant(request: Request) -> Response:
    fields = await checked_form(request)
    item_id, db = request.path_params["item_id"], request.app.state.db
    wid = await run_in_threadpool(_watch_id, db, fields.get("watch", ""), request.app.state.config.locale)
    now = datetime.now(UTC)

    def act() -> None:
        with db.begin() as s:
            if fields.get("undo"):
                feedback.relevant_again(s, item_id, wid)
            else:
                feedback.not_relevant(s, item_id, wid, _who(request), now)
    await run_in_threadpool(act)
    return _back(request, f"/stories/{item_id}")


async def not_same(request: Request) -> Response:
    await checked_form(request)
    item_id, db = request.path_params["item_id"], request.app.state.db

    def act() -> int | None:
        with db.begin() as s:
            return feedback.not_same(s, item_id, _who(request), datetime.now(UTC))
    old_root = await run_in_threadpool(act)
    return RedirectResponse(f"/stories/{old_root or item_id}", status_code=303)


async def same(request: Request) -> Response:
    fields = await checked_form(request)
    item_id, db = request.path_params["item_id"], request.app.state.db
    other = fields.get("other", "").strip().rstrip("/").rsplit("/", 1)[-1]  # an id or a story page's URL
    if not other.isdigit():
        _ = gettext_for(request.app.state.config.locale)
        raise HTTPException(400, _("Give the other story's number."))

    def act() -> int:
        with db.begin() as s:
            if stories_exist(s, int(other)):
                return feedback.same(s, item_id, int(other), _who(request), datetime.now(UTC))
            raise HTTPException(404)
    root = await run_in_threadpool(act)
    return RedirectResponse(f"/stories/{root}", status_code=303)


def stories_exist(session, item_id: int) -> bool:
    return item_view(session, item_id) is not None


# ---------------------------------------------------------------------------------------------
# Signed links from the emails


async def signed(request: Request) -> Response:
    state = request.app.state
    action = request.path_params["action"]
    q = request.query_params
    recipient, target, sig = q.get("to", ""), q.get("t", ""), q.get("s", "")
    _ = gettext_for(state.config.locale)
    if action not in signing.ACTIONS or not signing.verify(state.secret, sig, action, recipient, target):
        return page(request, "message.html", status=403, title=_("This link is not valid"),
                    message=_("The link was changed or is incomplete. Use the link in the email as it was sent."))
    what = _describe(action, target, _)
    if request.method == "GET":
        return page(request, "confirm.html", title=what, recipient=recipient, action_url=str(request.url))
    try:
        await run_in_threadpool(_perform, state.db, action, recipient, target)
    except LookupError:
        return page(request, "message.html", status=404, title=_("Nothing to do"),
                    message=_("The story or watch this link is about is no longer stored."))
    return page(request, "message.html", title=_("Done"), message=what + " · " + recipient)


def _describe(action: str, target: str, _) -> str:
    if action == "unsubscribe":
        return _("Send no more emails to this address")
    if action == "mute":
        return _("Stop sending the watch %(watch)s to this address") % {"watch": target}
    return _("Take this story out of the watch %(watch)s") % {"watch": target.partition(":")[2]}


def _perform(db, action: str, recipient: str, target: str) -> None:
    now = datetime.now(UTC)
    with db.begin() as s:
        if action == "unsubscribe":
            feedback.mute(s, recipient, feedback.EVERYTHING, now)
        elif action == "mute":
            feedback.mute(s, recipient, target, now)
        else:
            story, _, watch = target.partition(":")
            ids = digests.watch_ids(s, [watch])
            if not story.isdigit() or watch not in ids or not stories_exist(s, int(story)):
                raise LookupError(target)
            feedback.not_relevant(s, int(story), ids[watch], recipient, now)
