"""Quarantine routes: the list, one message, release / delete / report; as pages and as JSON.

The list filters by status, time, sender, recipient, subject, symbol, action, score, and
campaign (``campaign=ID``: the entries that are members of that campaign, from
``Campaigns.member_ids``).

Actions go through the same paths as the CLI (:func:`release_quarantined`, ``Store.delete``,
the feedback store), so each lands in the audit log under the console user's name.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailward.errors import StoreError
from mailward.response.quarantine_release import release_quarantined
from mailward.store import QuarantineEntry
from mailward.store.browse import QuarantineFilter
from mailward.store.feedback import FeedbackStore
from mailward.web._accounts import Session, has_role
from mailward.web._guard import Console, action, console_of, is_api, page, refuse, run
from mailward.web._message import message_view

REPORT_LABELS = {"phish": "phish", "spam": "spam", "false-positive": "ham"}
#: A campaign filter looks among its newest this many members (one bound parameter each).
MAX_CAMPAIGN_IDS = 10_000


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _time(value: str) -> float | None:
    """``2026-12-07T10:00`` (UTC) or epoch seconds -> epoch seconds; ValueError when neither."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = datetime.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.timestamp()


def _score(value: str) -> float | None:
    return float(value) if value else None


def parse_filter(params: dict[str, str]) -> QuarantineFilter:
    """A filter from query parameters; ValueError for a bad value."""
    status = params.get("status", "held")
    return QuarantineFilter(
        status=None if status in ("", "all") else status,
        since=_time(params.get("since", "")),
        until=_time(params.get("until", "")),
        min_score=_score(params.get("min_score", "")),
        max_score=_score(params.get("max_score", "")),
        sender=_text(params, "sender"), recipient=_text(params, "recipient"),
        subject=_text(params, "subject"), symbol=_text(params, "symbol"),
        action=_text(params, "action"),
    )


def _text(params: dict[str, str], name: str) -> str:
    return params.get(name, "").strip()[:256]


def entry_json(e: QuarantineEntry) -> dict[str, Any]:
    return {
        "id": e.id, "received_at": e.received_at, "mail_from": e.mail_from,
        "rcpt_tos": list(e.rcpt_tos), "message_id": e.message_id, "subject": e.subject,
        "score": e.score, "action": e.action, "reason": e.reason, "size": e.size,
        "status": e.status, "recipients": e.recipients,
        "findings": [
            {"symbol": f.symbol, "score": f.score, "explanation": f.explanation,
             "evidence": list(f.evidence)}
            for f in e.findings
        ],
    }  # fmt: skip


@page()
async def list_entries(request: Request, session: Session) -> Response:
    console = console_of(request)
    params = dict(request.query_params)
    campaign = params.get("campaign", "").strip()[:64]
    try:
        flt = parse_filter(params)
        if campaign:  # the quarantined members of a campaign
            members = await run(console.activity.campaigns().member_ids, campaign)
            flt = dataclasses.replace(flt, ids=tuple(members[-MAX_CAMPAIGN_IDS:]))
        result = await run(console.browser.page, flt, params.get("after") or None,
                           console.settings.console.page_size)
    except ValueError as exc:
        return refuse(request, 400, f"bad filter: {exc}")
    if is_api(request):
        return JSONResponse({"entries": [entry_json(e) for e in result.entries],
                             "next": result.next_cursor})
    first = {k: v for k, v in params.items() if k != "after" and v}
    return console.render(request, "quarantine_list.html", page=result, params=first,
                          current=params.get("status", "held"), when=_when)


async def _entry(console: Console, entry_id: str) -> QuarantineEntry | None:
    return await run(console.store.get_quarantine, entry_id)


@page()
async def show_entry(request: Request, session: Session) -> Response:
    console = console_of(request)
    entry = await _entry(console, request.path_params["entry_id"])
    if entry is None:
        return refuse(request, 404, "no such quarantined message")
    audit = await run(console.store.audit_log, entry.id, 50)
    if is_api(request):
        body = entry_json(entry)
        body["audit"] = [{"at": a.at, "actor": a.actor, "action": a.action,
                          "recipients": list(a.recipients), "reason": a.reason} for a in audit]
        return JSONResponse(body)
    raw = await run(console.store.quarantine_raw, entry.id) or b""
    view = await run(message_view, raw, console.settings.limits)
    response = console.render(
        request, "message.html", entry=entry, view=view, audit=audit, when=_when,
        can_act=has_role(session.user.role, "analyst"),
        done=request.query_params.get("done", "")[:200],
    )
    return response


def _reason(fields: dict[str, Any]) -> str:
    reason = str(fields.get("reason") or "").strip()
    if not reason:
        raise ValueError("give a reason (it goes to the audit log)")
    return reason[:1000]


def _recipients(fields: dict[str, Any]) -> list[str] | None:
    value = fields.get("rcpt") if "rcpt" in fields else fields.get("recipients")
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("recipients must be a list of addresses")
    return value


def _done(request: Request, entry_id: str, result: dict[str, Any], message: str) -> Response:
    if is_api(request):
        return JSONResponse(result)
    target = f"/quarantine/{quote(entry_id, safe='')}?{urlencode({'done': message})}"
    return RedirectResponse(target, status_code=303)


@action("analyst")
async def release(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    try:
        done = await run(release_quarantined, console.settings, console.store, entry_id,
                         _recipients(fields), session.user.name, _reason(fields))
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    delivered = False
    if console.deliver is not None:
        delivered = await console.deliver(done.spool_id)
    state = "delivered" if delivered else "queued for delivery"
    return _done(request, entry_id,
                 {"released": list(done.released), "spool_id": done.spool_id, "state": state},
                 f"released for {len(done.released)} recipient(s): {state}")


@action("analyst")
async def delete(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    try:
        deleted = await run(console.store.delete, entry_id, _recipients(fields),
                            session.user.name, _reason(fields))
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    return _done(request, entry_id, {"deleted": list(deleted)},
                 f"deleted for {len(deleted)} recipient(s)")


def _report(console: Console, entry_id: str, label: str, actor: str, reason: str) -> int:
    raw = console.store.quarantine_raw(entry_id)
    if not raw:
        raise StoreError(f"{entry_id}: no message bytes to report")
    feedback = FeedbackStore(console.settings.store_url)
    try:
        sample = feedback.add(label, raw, actor, f"reported from the console: {reason}")
    finally:
        feedback.close()
    console.store.audit(actor, f"report-{label}", entry_id, [], reason)
    return sample


@action("analyst")
async def report(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    label = REPORT_LABELS.get(str(fields.get("label") or ""))
    if label is None:
        return refuse(request, 400, f"label must be one of {', '.join(REPORT_LABELS)}")
    try:
        sample = await run(_report, console, entry_id, label, session.user.name,
                           _reason(fields))
    except (ValueError, StoreError) as exc:
        return refuse(request, 400, str(exc))
    return _done(request, entry_id, {"feedback_id": sample, "label": label},
                 f"reported as {label}")


def routes() -> list[Route]:
    out: list[Route] = []
    for prefix in ("", "/api"):
        out += [
            Route(f"{prefix}/quarantine", list_entries, methods=["GET"]),
            Route(f"{prefix}/quarantine/{{entry_id}}", show_entry, methods=["GET"]),
            Route(f"{prefix}/quarantine/{{entry_id}}/release", release, methods=["POST"]),
            Route(f"{prefix}/quarantine/{{entry_id}}/delete", delete, methods=["POST"]),
            Route(f"{prefix}/quarantine/{{entry_id}}/report", report, methods=["POST"]),
        ]
    return out
