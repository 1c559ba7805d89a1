"""The console's shared state and the guards every route goes through.

:func:`page` wraps a GET handler: no live session -> a redirect to /login (401 JSON under
/api/); a role too low -> 403. :func:`action` wraps a state change: the same, then the CSRF
token (form field ``csrf`` or header ``X-CSRF-Token``) must equal the session's, else 403.
Handlers receive the request, the session, and (for actions) the submitted fields.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial, wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mailward.cluster.backlog import HeldCount
from mailward.config.settings import Settings
from mailward.response.release import ReleaseReport
from mailward.store import Store
from mailward.store.browse import QuarantineBrowser
from mailward.web._accounts import Accounts, Session, has_role
from mailward.web._activity import ActivityAccess
from mailward.web._ratelimit import LoginLimiter

COOKIE = "mailward_session"
TEMPLATES = Path(__file__).parent / "templates"
P = ParamSpec("P")
T = TypeVar("T")

#: Called with a spool id after a release: delivers it now (the running gateway's processor);
#: None leaves it to the spool workers.
Deliver = Callable[[str], Awaitable[bool]]
#: Releases the lockdown's held backlog (response.release.release_held on the running gateway's
#: spool and processor), reporting (done, total) as it goes; None outside a running gateway.
ReleaseBacklog = Callable[[Callable[[int, int], None]], Awaitable[ReleaseReport]]


@dataclass
class BacklogRelease:
    """Progress of the one backlog release a console runs at a time."""

    actor: str = ""
    started_at: float = 0.0
    done: int = 0
    total: int = 0
    running: bool = False
    result: str = ""
    task: asyncio.Task[None] | None = None


@dataclass
class Console:
    """Everything the routes share; built by :func:`mailward.web.app.build_app`."""

    settings: Settings
    store: Store
    accounts: Accounts
    browser: QuarantineBrowser
    limiter: LoginLimiter
    activity: ActivityAccess
    deliver: Deliver | None = None
    release_backlog: ReleaseBacklog | None = None
    reload: Callable[[], None] | None = None  # asks the running gateway to reload
    held_count: HeldCount | None = None  # in a cluster: the shared store's held mail
    backlog: BacklogRelease = field(default_factory=BacklogRelease)
    jinja: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
            trim_blocks=True, lstrip_blocks=True,
        )
    )

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        html = self.jinja.get_template(name).render(
            request=request, session=session, user=session.user if session else None,
            csrf=session.csrf if session else "", **context,
        )
        return HTMLResponse(html, status_code=status)


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A blocking (store) call in a worker thread, so the gateway's event loop runs on."""
    return await asyncio.to_thread(partial(fn, *args, **kwargs))


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def refuse(request: Request, status: int, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return console_of(request).render(request, "error.html", status=status, message=message)


async def load_session(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE, "")
    session = await run(console_of(request).accounts.session, token) if token else None
    request.state.session = session
    return session


def _unauthenticated(request: Request) -> Response:
    if is_api(request):
        return JSONResponse({"error": "log in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


Handler = Callable[[Request, Session], Awaitable[Response]]
ActionHandler = Callable[[Request, Session, dict[str, Any]], Awaitable[Response]]


def page(role: str = "viewer") -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A read-only route for ``role`` and above."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = await load_session(request)
            if session is None:
                return _unauthenticated(request)
            if not has_role(session.user.role, role):
                return refuse(request, 403, f"this needs the {role} role")
            return await handler(request, session)

        return endpoint

    return wrap


#: A console request body is a few fields; anything larger is refused before it is read.
MAX_BODY_BYTES = 64 * 1024


async def submitted(request: Request) -> tuple[dict[str, Any], str]:
    """The submitted fields (JSON body under /api/, else the form) and the CSRF token sent;
    ValueError for a body that is too large or not a JSON object."""
    header = request.headers.get("x-csrf-token", "")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ValueError(f"the request body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    request._body = b"".join(chunks)  # what request.json() / form() read from now on
    if is_api(request):
        try:
            body = await request.json() if await request.body() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise ValueError("the body is not a JSON object")
        return body, header
    form: FormData = await request.form()
    fields: dict[str, Any] = {k: form.getlist(k) if k == "rcpt" else form.get(k) for k in form}
    return fields, str(form.get("csrf") or header)


def action(role: str) -> Callable[[ActionHandler], Callable[[Request], Awaitable[Response]]]:
    """A state-changing route for ``role`` and above, refused without the session's CSRF token."""

    def wrap(handler: ActionHandler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = await load_session(request)
            if session is None:
                return _unauthenticated(request)
            try:
                fields, token = await submitted(request)
            except ValueError as exc:
                return refuse(request, 400, str(exc))
            if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
                return refuse(request, 403, "missing or wrong CSRF token; reload the page")
            if not has_role(session.user.role, role):
                return refuse(request, 403, f"this needs the {role} role")
            return await handler(request, session, fields)

        return endpoint

    return wrap
