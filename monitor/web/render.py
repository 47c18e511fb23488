"""The web view's Jinja2 environment: autoescaped, the interface's words from the message
catalogue, and the same filters as the emails (highlights as escaped segments, http(s) links
only, local times)."""
from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..mail.channels import display
from ..mail.render import cut, jinja_environment, marked, safe_url
from .auth import csrf_token


@cache
def environment(locale: str) -> Environment:
    env = jinja_environment(PackageLoader("monitor.web", "templates"), select_autoescape(["html", "xml"]), locale)
    env.filters.update(marked=marked, safe_url=safe_url, cut=cut,
                       addresses=lambda value: ", ".join(display(a) for a in value.split(",")))
    env.globals["qs"] = lambda values: urlencode({k: v for k, v in values.items() if v not in (None, "")})
    return env


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of the web view, with what every page needs (the signed-in user, a CSRF token)."""
    state = request.app.state
    tz = state.config.tz
    html = environment(state.config.locale).get_template(name).render(
        request=request, user=request.session.get("user"), csrf=csrf_token(request.session),
        locale=state.config.locale,
        local=lambda dt, fmt="%Y-%m-%d %H:%M": dt.astimezone(tz).strftime(fmt) if dt else "",
        sign_in=state.policy.required, **context)
    return HTMLResponse(html, status_code=status)
