"""Lockdown and hunt routes: the incident-response tools of the CLI, in the console.

/lockdown (admin to change): the level, who set it and why, held and queued counts (in a
cluster: the shared store's held mail, and this node's own spool apart), a change
with a reason (``LockdownState.set``, audited), and the release of the held backlog
(``release_held`` on the running gateway's spool and processor) with its progress, polled by
/static/lockdown.js from /api/lockdown. /hunt (analyst to act): a search by indicator
(``response.hunt.hunt`` on the journal), results by recipient and where each copy went, and a
claw-back of chosen copies (``clawback_tool``: IMAP or the local Maildirs, audited) that needs
a reason and a ticked confirmation.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailward.cluster.redis import node_id
from mailward.errors import StoreError
from mailward.response.clawback import ClawbackTarget, clawback_tool
from mailward.response.hunt import HuntQuery, hunt
from mailward.response.journal import Journal, JournalHit
from mailward.response.lockdown import Level, LockdownState
from mailward.spool.queue import Spool
from mailward.web._accounts import Session, has_role
from mailward.web._guard import Console, action, console_of, is_api, page, refuse, run

_INDICATORS = ("url", "domain", "hash", "sender", "subject", "message_id")


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _lockdown_status(console: Console) -> dict[str, Any]:
    """The level and the backlog. ``held``: what a release would release (in a cluster the
    shared store's held mail, else this node's spool's); ``queued``: all mail waiting (in a
    cluster, that held mail plus this node's spool); ``node``: this node's own spool."""
    state = LockdownState(console.settings.store_url, cache_seconds=0.0)
    try:
        status = state.status()
    finally:
        state.close()
    spool = Spool(console.settings.spool_dir)
    held, queued = len(spool.held()), spool.count()
    shared = console.held_count.get() if console.held_count is not None else None
    b = console.backlog
    return {
        "level": str(status.level), "changed_at": status.changed_at, "actor": status.actor,
        "reason": status.reason, "cluster": shared is not None,
        "node": {"id": node_id(console.settings), "held": held, "queued": queued},
        "held": held if shared is None else shared, "queued": queued + (shared or 0),
        "release": {"running": b.running, "done": b.done, "total": b.total, "actor": b.actor,
                    "started_at": b.started_at, "result": b.result,
                    "available": console.release_backlog is not None},
    }  # fmt: skip


@page()
async def lockdown_page(request: Request, session: Session) -> Response:
    console = console_of(request)
    status = await run(_lockdown_status, console)
    if is_api(request):
        return JSONResponse(status)
    return console.render(request, "lockdown.html", state=status, levels=[str(v) for v in Level],
                          can_change=has_role(session.user.role, "admin"), when=_when,
                          done=request.query_params.get("done", "")[:200])


def _back(request: Request, result: dict[str, Any], message: str, path: str) -> Response:
    if is_api(request):
        return JSONResponse(result)
    return RedirectResponse(f"{path}?{urlencode({'done': message})}", status_code=303)


def _set_level(console: Console, level: Level, actor: str, reason: str) -> str:
    state = LockdownState.for_settings(console.settings, cache_seconds=0.0)
    try:
        return str(state.set(level, actor=actor, reason=reason, store=console.store).level)
    finally:
        state.close()


@action("admin")
async def lockdown_set(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    reason = str(fields.get("reason") or "").strip()[:1000]
    try:
        level = Level(str(fields.get("level") or ""))
    except ValueError:
        return refuse(request, 400, f"level must be one of {', '.join(str(v) for v in Level)}")
    if not reason:
        return refuse(request, 400, "give a reason (it goes to the audit log)")
    now = await run(_set_level, console, level, session.user.name, reason)
    return _back(request, {"level": now}, f"lockdown is now {now}", "/lockdown")


async def _run_backlog(console: Console) -> None:
    b = console.backlog
    assert console.release_backlog is not None

    def progress(done: int, total: int) -> None:
        b.done, b.total = done, total

    try:
        report = await console.release_backlog(progress)
        b.result = (f"held {report.held}: delivered {report.delivered}, "
                    f"quarantined {report.quarantined}")
    except Exception as exc:  # shown on the page; the spool keeps what was not finished
        b.result = f"stopped: {type(exc).__name__}: {exc}"
    finally:
        b.running = False


@action("admin")
async def lockdown_release(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    if console.release_backlog is None:
        return refuse(request, 503, "the backlog is released by the running gateway only")
    if console.backlog.running:
        return refuse(request, 409, "a release is already running")
    reason = str(fields.get("reason") or "").strip()[:1000]
    if not reason:
        return refuse(request, 400, "give a reason (it goes to the audit log)")
    await run(console.store.audit, session.user.name, "lockdown-release", "lockdown", [], reason)
    b = console.backlog
    b.actor, b.started_at, b.done, b.total, b.running, b.result = (
        session.user.name, time.time(), 0, 0, True, "")
    b.task = asyncio.create_task(_run_backlog(console), name="console-backlog-release")
    return _back(request, {"started": True}, "release of the held backlog started", "/lockdown")


def _hunt(console: Console, query: HuntQuery) -> list[JournalHit]:
    journal = Journal(console.settings.store_url)
    try:
        return hunt(journal, query)
    finally:
        journal.close()


def _hit_json(hit: JournalHit) -> dict[str, object]:
    data = hit.to_json()
    sha = hit.details.get("sha256") if hit.details else None
    data["sha256"] = sha if isinstance(sha, str) else None
    return data


@page()
async def hunt_page(request: Request, session: Session) -> Response:
    console = console_of(request)
    params = {k: request.query_params.get(k, "").strip()[:500] for k in _INDICATORS}
    hours = request.query_params.get("hours", "")
    try:
        since = time.time() - float(hours) * 3600 if hours else None
    except ValueError:
        return refuse(request, 400, "hours must be a number")
    query = HuntQuery(
        url=params["url"] or None, domain=params["domain"] or None, hash=params["hash"] or None,
        sender=params["sender"] or None, subject=params["subject"] or None,
        message_id=params["message_id"] or None, since=since, limit=500,
    )
    hits = [] if query.empty else await run(_hunt, console, query)
    if is_api(request):
        return JSONResponse({"hits": [_hit_json(h) for h in hits]})
    return console.render(request, "hunt.html", params=params, hours=hours, hits=hits,
                          searched=not query.empty, when=_when, sha=_hit_json,
                          can_act=has_role(session.user.role, "analyst"),
                          done=request.query_params.get("done", "")[:300])


def _claw_back(console: Console, target: ClawbackTarget, actor: str, reason: str) -> list[str]:
    tool = clawback_tool(console.settings, console.store)
    results = tool.claw_back([target], actor=actor, reason=reason)
    return [f"{r.recipient}: {r.status}{f' ({r.reason})' if r.reason else ''}" for r in results]


@action("analyst")
async def clawback(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    reason = str(fields.get("reason") or "").strip()[:1000]
    rcpts = fields.get("rcpt") if "rcpt" in fields else fields.get("recipients")
    message_id = str(fields.get("message_id") or "")
    if str(fields.get("confirm") or "") not in ("yes", "true", "True"):
        return refuse(request, 400, "tick the confirmation: a claw-back takes mail out of "
                                    "mailboxes")
    if not reason or not message_id or not isinstance(rcpts, list) or not rcpts:
        return refuse(request, 400, "a claw-back needs the message, recipients and a reason")
    target = ClawbackTarget(message_id, tuple(str(r) for r in rcpts),
                            str(fields.get("spool_id") or "") or None,
                            str(fields.get("sha256") or "") or None)
    try:
        lines = await run(_claw_back, console, target, session.user.name, reason)
    except (ValueError, StoreError, OSError) as exc:
        return refuse(request, 400, f"claw-back failed: {exc}")
    return _back(request, {"results": lines}, "; ".join(lines), "/hunt")


def routes() -> list[Route]:
    return [
        Route("/lockdown", lockdown_page, methods=["GET"]),
        Route("/api/lockdown", lockdown_page, methods=["GET"]),
        Route("/lockdown/level", lockdown_set, methods=["POST"]),
        Route("/api/lockdown/level", lockdown_set, methods=["POST"]),
        Route("/lockdown/release", lockdown_release, methods=["POST"]),
        Route("/api/lockdown/release", lockdown_release, methods=["POST"]),
        Route("/hunt", hunt_page, methods=["GET"]),
        Route("/api/hunt", hunt_page, methods=["GET"]),
        Route("/hunt/clawback", clawback, methods=["POST"]),
        Route("/api/hunt/clawback", clawback, methods=["POST"]),
    ]
