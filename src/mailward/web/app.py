"""The console application: login, logout, health, static files, security headers, and the
routes of the pages and API (quarantine, overview, lockdown and hunt, alerts, campaigns,
users, metrics: one module each).

Only ``/login``, ``/static/...`` and ``/health`` answer without a session (and ``/metrics``
to the bearer token ``console.metrics_token`` when set). Every response
carries a strict Content-Security-Policy (scripts and styles from this origin only, images from
this origin or ``data:``, nothing framed, no framing), ``X-Frame-Options: DENY``, ``nosniff``,
``Referrer-Policy: same-origin`` (so a form POST carries its Origin, checked at login);
everything but the static files is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor
from mailward.cluster.backlog import HeldCount
from mailward.cluster.held import HeldStore
from mailward.config.settings import Settings
from mailward.store import Store, open_store
from mailward.store.browse import QuarantineBrowser
from mailward.web import _admin, _alerts, _campaigns, _metrics, _overview, _quarantine, _response
from mailward.web._accounts import Accounts, Session
from mailward.web._activity import ActivityAccess
from mailward.web._guard import (
    COOKIE,
    Console,
    Deliver,
    ReleaseBacklog,
    action,
    console_of,
    is_api,
    page,
    refuse,
    run,
)
from mailward.web._ratelimit import LoginLimiter

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (no-store on all but static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                headers += _HEADERS
                headers.append((b"cache-control", b"max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _safe_next(target: str) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return "/"
    return target if "\\" not in target else "/"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _set_cookie(console: Console, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE, token, max_age=int(console.settings.console.session_max_seconds),
        httponly=True, samesite="strict", secure=console.settings.console.tls_cert is not None,
        path="/",
    )


async def login_form(request: Request) -> Response:
    return console_of(request).render(
        request, "login.html", next=_safe_next(request.query_params.get("next", "/")), error=""
    )


async def login(request: Request) -> Response:
    console = console_of(request)
    api = is_api(request)
    if not _same_origin(request):
        return refuse(request, 403, "login from another site refused")
    fields: dict[str, Any]
    if api:
        try:
            body = await request.json()
        except ValueError:
            body = None
        fields = body if isinstance(body, dict) else {}
    else:
        fields = dict(await request.form())
    name = str(fields.get("username") or "")[:128]
    password = str(fields.get("password") or "")[:1024]
    target = _safe_next(str(fields.get("next") or "/"))
    address = _client(request)
    if console.limiter.blocked(address, name):
        return _login_failed(request, 429, "too many failed logins; wait a few minutes", target)
    user = await run(console.accounts.authenticate, name, password)
    if user is None:
        console.limiter.failed(address, name)
        return _login_failed(request, 401, "wrong user name or password", target)
    console.limiter.succeeded(name)
    token = await run(console.accounts.open_session, user)
    await run(console.store.audit, user.name, "console-login", f"user:{user.name}", [],
              f"from {address}")
    response: Response
    if api:
        session = await run(console.accounts.session, token)
        assert session is not None
        response = JSONResponse({"user": user.name, "role": user.role, "csrf": session.csrf})
    else:
        response = RedirectResponse(target, status_code=303)
    _set_cookie(console, response, token)
    return response


def _login_failed(request: Request, status: int, message: str, target: str) -> Response:
    if is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return console_of(request).render(
        request, "login.html", status=status, next=target, error=message
    )


@action("viewer")
async def logout(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    await run(console.accounts.close_session, request.cookies.get(COOKIE, ""))
    await run(console.store.audit, session.user.name, "console-logout",
              f"user:{session.user.name}", [], "")
    response: Response = (
        JSONResponse({"ok": True}) if is_api(request)
        else RedirectResponse("/login", status_code=303)
    )
    response.delete_cookie(COOKIE, path="/")
    return response


@page()
async def session_info(request: Request, session: Session) -> Response:
    return JSONResponse({"user": session.user.name, "role": session.user.role,
                         "csrf": session.csrf})


@page()
async def home(request: Request, session: Session) -> Response:
    return RedirectResponse("/overview", status_code=303)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_app(
    settings: Settings, *, store: Store | None = None, deliver: Deliver | None = None,
    release_backlog: ReleaseBacklog | None = None, reload: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.time, activity: ActivityMonitor | None = None,
    campaigns: Campaigns | None = None,
) -> Starlette:
    """The console for ``settings`` (its store, accounts and limits); ``deliver`` is called
    with the spool id of each release and ``release_backlog`` releases a lockdown's held mail
    (both on the running gateway's processor), ``reload`` asks the gateway to reload its
    configuration, ``clock`` times the sessions; ``activity`` and ``campaigns`` are the
    running gateway's (else the console opens its own when first asked)."""
    cfg = settings.console
    own_store = store is None
    the_store = store if store is not None else open_store(settings.store_url)
    console = Console(
        settings=settings, store=the_store,
        accounts=Accounts(settings.store_url, idle=cfg.session_idle_seconds,
                          absolute=cfg.session_max_seconds, clock=clock),
        browser=QuarantineBrowser(settings.store_url),
        limiter=LoginLimiter(cfg.login_failures_per_address, cfg.login_failures_per_user,
                             cfg.login_window_seconds),
        activity=ActivityAccess(settings, the_store, activity, campaigns),
        deliver=deliver,
        release_backlog=release_backlog,
        reload=reload,
        held_count=HeldCount(HeldStore(settings.store_url)) if settings.cluster.redis_url
        else None,
    )
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/api/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/session", session_info, methods=["GET"]),
        *_quarantine.routes(),
        *_overview.routes(),
        *_response.routes(),
        *_alerts.routes(),
        *_campaigns.routes(),
        *_admin.routes(),
        *_metrics.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]

    def shutdown() -> None:
        console.accounts.close()
        console.browser.close()
        console.activity.close()
        if console.held_count is not None:
            console.held_count.held.close()
        if own_store:
            console.store.close()

    app = Starlette(routes=routes)
    app.state.console = console
    app.state.close = shutdown
    app.add_middleware(SecurityHeaders)
    return app
