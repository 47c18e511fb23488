"""The web view as one Starlette application: ``monitor web`` serves it alone, ``monitor run
--http`` serves it with ``/healthz`` and ``/metrics`` beside it (``extra_routes``)."""
from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import signing
from ..config import Config
from ..i18n import gettext_for
from ..mail.links import link_secret
from ..store import Database, deliveries
from . import actions, exports, pages
from .auth import Policy, Throttle
from .render import page

STATIC = Path(__file__).resolve().parent / "static"
OPEN_PATHS = ("/signin", "/static/", "/act/", "/m/", "/healthz", "/metrics", "/favicon.ico")
SESSION_DAYS = 14

# Pages run no script and load nothing from elsewhere; the emails' own HTML gets a sandbox of its
# own (pages.sent_copy).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                                 b"frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
]


class Guard:
    """Sign-in where the policy requires it, and the security headers on every answer."""

    def __init__(self, app: ASGIApp, policy: Policy):
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        atom = path.startswith("/watches/") and path.endswith(".atom")
        if self.policy.required and not atom and not path.startswith(OPEN_PATHS) and not scope["session"].get("user"):
            target = path + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
            response = RedirectResponse("/signin?" + urlencode({"next": target}), status_code=303)
            await response(scope, receive, self._headers(send))
            return
        await self.app(scope, receive, self._headers(send))

    @staticmethod
    def _headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)
        return wrapped


class Web:
    """What the handlers share (``request.app.state``)."""

    def __init__(self, config: Config, db: Database, host: str):
        self.config, self.db = config, db
        self.policy = Policy.of(config, host)
        self.throttle = Throttle()
        with db.begin() as s:
            self.secret = link_secret(config, s)

    def base_url(self, request: Request) -> str:
        return self.config.web.base_url or str(request.base_url).rstrip("/")

    def atom_url(self, watch: str) -> str:
        return f"/watches/{quote(watch, safe='')}.atom?{urlencode({'token': signing.feed_token(self.secret, watch)})}"


def create_app(config: Config, db: Database, *, host: str = "127.0.0.1",
               extra_routes: list[BaseRoute] | None = None) -> Starlette:
    web = Web(config, db, host)
    app = Starlette(routes=_routes() + list(extra_routes or []), middleware=[
        Middleware(SessionMiddleware, secret_key=web.secret, session_cookie="monitor_session",
                   max_age=SESSION_DAYS * 86400, same_site="lax", https_only=bool(
                       config.web.base_url and config.web.base_url.startswith("https:"))),
        Middleware(Guard, policy=web.policy),
    ], exception_handlers={HTTPException: _error})
    for name in ("config", "db", "policy", "throttle", "secret"):
        setattr(app.state, name, getattr(web, name))
    app.state.base_url, app.state.atom_url = web.base_url, web.atom_url
    return app


def _routes() -> list[BaseRoute]:
    return [
        Route("/", pages.stories_page),
        Route("/stories.{fmt:str}", exports.export),
        Route("/stories/{item_id:int}", pages.story_page),
        Route("/stories/{item_id:int}/not-relevant", actions.not_relevant, methods=["POST"]),
        Route("/items/{item_id:int}/not-same", actions.not_same, methods=["POST"]),
        Route("/items/{item_id:int}/same", actions.same, methods=["POST"]),
        Route("/search", pages.search_page),
        Route("/feeds", pages.feeds_page),
        Route("/watches", pages.watches_page),
        Route("/watches/{name:str}.atom", exports.atom),
        Route("/emails", pages.emails_page),
        Route("/emails/{delivery_id:int}", pages.email_page),
        Route("/emails/{delivery_id:int}/body", pages.email_body),
        Route("/m/{key:str}", view_signed),
        Route("/act/{action:str}", actions.signed, methods=["GET", "POST"]),
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/favicon.ico", lambda _request: RedirectResponse("/static/favicon.svg", status_code=301)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    _ = gettext_for(request.app.state.config.locale)
    titles = {403: _("Not allowed"), 404: _("Not found"), 400: _("Cannot do that"), 405: _("Not allowed"),
              429: _("Too many attempts")}
    detail = exc.detail if exc.detail and exc.detail != _http_phrase(exc.status_code) else ""
    return page(request, "message.html", status=exc.status_code, title=titles.get(exc.status_code, _("Error")),
                message=detail)


def _http_phrase(code: int) -> str:
    return HTTPStatus(code).phrase


def view_signed(request: Request) -> Response:
    """An email's copy from its "view in the browser" link: the signature is the permission."""
    state = request.app.state
    key = request.path_params["key"]
    if not signing.verify(state.secret, request.query_params.get("s", ""), "view", key):
        _ = gettext_for(state.config.locale)
        raise HTTPException(403, _("This link is not valid."))
    with state.db.session() as s:
        row = deliveries.by_key(s, key)
        html = (row.body_html or pages.text_copy(row.body_text)) if row is not None else None
    if html is None:
        raise HTTPException(404)
    return pages.sent_copy(html)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


async def signin(request: Request) -> Response:
    state = request.app.state
    _ = gettext_for(state.config.locale)
    if request.method == "GET":
        return page(request, "signin.html", next=_safe_next(request.query_params.get("next")), error=None,
                    token=bool(state.policy.token), users=bool(state.policy.users))
    fields = await actions.checked_form(request)
    client = request.client.host if request.client else "?"
    if state.throttle.blocked(client):
        raise HTTPException(429, _("Too many failed sign-ins from this address; wait a few minutes."))
    user = state.policy.check(fields.get("name", "").strip(), fields.get("password", ""))
    if user is None:
        state.throttle.failed(client)
        return page(request, "signin.html", status=401, next=_safe_next(fields.get("next")),
                    error=_("Wrong name or password."), token=bool(state.policy.token), users=bool(state.policy.users))
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session["user"] = user
    return RedirectResponse(_safe_next(fields.get("next")), status_code=303)


async def signout(request: Request) -> Response:
    await actions.checked_form(request)
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)
