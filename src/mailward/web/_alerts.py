"""Alert routes: the incidents the activity checks raised, as pages and as JSON.

/alerts lists them newest first (filters: state, kind, severity; paged by id), /alerts/{id}
shows one with its evidence (as text) and automatic responses. Acknowledge and close (analyst)
need a reason and go through the same paths as `mailward alerts ack|close`:
``ActivityMonitor.acknowledge`` and ``ActivityMonitor.close_alert``, which undoes the alert's
automatic responses (held mail released through the quarantine's release path and delivered
by the running gateway, a lockdown it raised set back); both audited under the console user.
"""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailward.activity.alerts import KINDS, SEVERITIES, STATES, Alert
from mailward.errors import StoreError
from mailward.response.requeue import requeue
from mailward.web._accounts import Session, has_role
from mailward.web._guard import Console, action, console_of, is_api, page, refuse, run

STATE_CHOICES = ("active", *STATES, "all")


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _choice(params: dict[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = params.get(name, "")
    if value and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    return value or None


def _alert_id(request: Request) -> int | None:
    text = str(request.path_params["alert_id"])
    return int(text) if text.isdigit() and len(text) < 12 else None


@page()
async def list_alerts(request: Request, session: Session) -> Response:
    console = console_of(request)
    params = dict(request.query_params)
    try:
        state = _choice(params, "state", STATE_CHOICES) or "active"
        kind = _choice(params, "kind", KINDS)
        level = _choice(params, "severity", SEVERITIES)
        before = int(params["before"]) if params.get("before") else None
    except ValueError as exc:
        return refuse(request, 400, f"bad filter: {exc}")
    alerts, older = await run(console.activity.monitor().alerts.page, state, kind, level,
                              before, console.settings.console.page_size)
    if is_api(request):
        return JSONResponse({"alerts": [a.to_json() for a in alerts], "next": older})
    first = {k: v for k, v in params.items() if k != "before" and v}
    return console.render(request, "alerts.html", alerts=alerts, older=older, params=first,
                          state=state, states=STATE_CHOICES, kinds=KINDS, severities=SEVERITIES,
                          when=_when)


def _details(console: Console, alert_id: int) -> tuple[Alert, list[str], list[str]] | None:
    monitor = console.activity.monitor()
    alert = monitor.alerts.get(alert_id)
    if alert is None:
        return None
    return (alert, monitor.held_messages(alert_id),
            monitor.held_messages(alert_id, released=True))


@page()
async def show_alert(request: Request, session: Session) -> Response:
    console = console_of(request)
    alert_id = _alert_id(request)
    found = None if alert_id is None else await run(_details, console, alert_id)
    if found is None:
        return refuse(request, 404, "no such alert")
    alert, held, released = found
    if is_api(request):
        return JSONResponse({**alert.to_json(), "held": held, "released": released})
    return console.render(
        request, "alert.html", alert=alert, held=held, released=released, when=_when,
        pretty=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False),
        can_act=has_role(session.user.role, "analyst") and alert.state != "closed",
        done=request.query_params.get("done", "")[:300],
    )


def _reason(fields: dict[str, Any]) -> str:
    reason = str(fields.get("reason") or "").strip()
    if not reason:
        raise ValueError("give a reason (it goes to the audit log)")
    return reason[:1000]


def _done(request: Request, alert_id: int, result: dict[str, Any], message: str) -> Response:
    if is_api(request):
        return JSONResponse(result)
    return RedirectResponse(f"/alerts/{alert_id}?{urlencode({'done': message})}",
                            status_code=303)


def _acknowledge(console: Console, alert_id: int, actor: str, reason: str) -> Alert:
    monitor = console.activity.monitor()
    if monitor.alerts.get(alert_id) is None:
        raise LookupError
    return monitor.acknowledge(alert_id, actor, reason)


@action("analyst")
async def acknowledge(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    alert_id = _alert_id(request)
    if alert_id is None:
        return refuse(request, 404, "no such alert")
    try:
        alert = await run(_acknowledge, console, alert_id, session.user.name, _reason(fields))
    except LookupError:
        return refuse(request, 404, "no such alert")
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    return _done(request, alert_id, alert.to_json(), f"alert {alert_id} acknowledged")


def _close(console: Console, alert_id: int, actor: str,
           reason: str) -> tuple[Alert, list[str], list[str]]:
    """``close_alert`` as `mailward alerts close` calls it; each held message is requeued
    (the spool ids are returned for the running gateway to deliver)."""
    monitor = console.activity.monitor()
    if monitor.alerts.get(alert_id) is None:
        raise LookupError
    spooled: list[str] = []

    def release(message_id: str, why: str, rescan: bool) -> None:
        done = requeue(console.settings, console.store, message_id, None, actor, why,
                       rescan=rescan)
        spooled.append(done.spool_id)

    alert, released = monitor.close_alert(alert_id, actor, reason, release)
    return alert, released, spooled


@action("analyst")
async def close(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    alert_id = _alert_id(request)
    if alert_id is None:
        return refuse(request, 404, "no such alert")
    try:
        alert, released, spooled = await run(_close, console, alert_id, session.user.name,
                                             _reason(fields))
    except LookupError:
        return refuse(request, 404, "no such alert")
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    delivered = 0
    if console.deliver is not None:
        for spool_id in spooled:
            delivered += bool(await console.deliver(spool_id))
    return _done(request, alert_id, {**alert.to_json(), "released": released,
                                     "delivered": delivered},
                 f"alert {alert_id} closed; {len(released)} held message(s) released")


def routes() -> list[Route]:
    out: list[Route] = []
    for prefix in ("", "/api"):
        out += [
            Route(f"{prefix}/alerts", list_alerts, methods=["GET"]),
            Route(f"{prefix}/alerts/{{alert_id}}", show_alert, methods=["GET"]),
            Route(f"{prefix}/alerts/{{alert_id}}/ack", acknowledge, methods=["POST"]),
            Route(f"{prefix}/alerts/{{alert_id}}/close", close, methods=["POST"]),
        ]
    return out
