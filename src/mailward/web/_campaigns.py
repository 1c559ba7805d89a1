"""Campaign routes: the waves the gateway clustered, as pages and as JSON.

/campaigns lists them, most recently active first (filter: state active or bad; paged by
last seen and id), each with its first and last seen, members, recipients, senders and
verdicts; /campaigns/{id} shows one with its members, each member still in the quarantine
linked to its message view. "Mark bad" (analyst, a reason and a ticked confirmation) goes
through ``Campaigns.found_bad`` as `mailward campaigns bad` does: the campaign is marked bad,
its alert raised and, with ``[campaigns] clawback``, its delivered members clawed back, all
audited under the console user.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailward.activity.campaign_reads import Campaign, summarize
from mailward.errors import StoreError
from mailward.store.browse import QuarantineFilter
from mailward.web._accounts import Session, has_role
from mailward.web._guard import Console, action, console_of, is_api, page, refuse, run

STATES = ("active", "bad")


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def encode_cursor(after: tuple[float, str] | None) -> str | None:
    return None if after is None else f"{after[0]!r}~{after[1]}"


def decode_cursor(text: str) -> tuple[float, str] | None:
    """ValueError when ``text`` is not a cursor of this module."""
    if not text:
        return None
    at, sep, cid = text.partition("~")
    if not sep or not cid:
        raise ValueError("not a campaign page cursor")
    return float(at), cid


def _list(console: Console, state: str | None, after: tuple[float, str] | None,
          ) -> tuple[list[dict[str, Any]], tuple[float, str] | None]:
    campaigns = console.activity.campaigns()
    found, older = campaigns.page(state, after, console.settings.console.page_size)
    sums = campaigns.summaries([c.id for c in found])
    return [{**c.to_json(), **sums.get(c.id, summarize([]))} for c in found], older


@page()
async def list_campaigns(request: Request, session: Session) -> Response:
    console = console_of(request)
    params = dict(request.query_params)
    state = params.get("state", "")
    if state and state not in STATES:
        return refuse(request, 400, f"state must be one of {', '.join(STATES)}")
    try:
        after = decode_cursor(params.get("after", ""))
    except ValueError as exc:
        return refuse(request, 400, str(exc))
    rows, older = await run(_list, console, state or None, after)
    if is_api(request):
        return JSONResponse({"campaigns": rows, "next": encode_cursor(older)})
    first = {k: v for k, v in params.items() if k != "after" and v}
    return console.render(request, "campaigns.html", campaigns=rows, params=first,
                          older=encode_cursor(older), state=state, when=_when)


def _details(console: Console, campaign_id: str
             ) -> tuple[Campaign, list[dict[str, Any]], set[str]] | None:
    campaigns = console.activity.campaigns()
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        return None
    members = campaigns.members(campaign_id)
    ids = tuple(m["spool_id"] for m in members)
    held = console.browser.page(QuarantineFilter(status=None, ids=ids), None, len(ids)) \
        if ids else None
    return campaign, members, {e.id for e in held.entries} if held else set()


@page()
async def show_campaign(request: Request, session: Session) -> Response:
    console = console_of(request)
    campaign_id = str(request.path_params["campaign_id"])[:64]
    found = await run(_details, console, campaign_id)
    if found is None:
        return refuse(request, 404, "no such campaign")
    campaign, members, quarantined = found
    for m in members:
        m["quarantined"] = m["spool_id"] in quarantined
    data = {**campaign.to_json(), **summarize(members)}
    if is_api(request):
        return JSONResponse({**data, "member_list": members})
    return console.render(
        request, "campaign.html", campaign=data, members=members, when=_when,
        can_act=has_role(session.user.role, "analyst") and campaign.state != "bad",
        clawback=console.settings.campaigns.clawback,
        done=request.query_params.get("done", "")[:300],
    )


def _mark_bad(console: Console, campaign_id: str, actor: str, reason: str) -> list[str]:
    """As `mailward campaigns bad`: LookupError for an unknown campaign; the delivered
    members clawed back (when ``[campaigns] clawback`` is on)."""
    campaigns = console.activity.campaigns()
    campaign = campaigns.get(campaign_id)
    if campaign is None:
        raise LookupError
    hits = campaigns.found_bad(campaign.id, f"reported by {actor}: {reason}",
                               source="analyst", actor=actor)
    return [h.spool_id for h in hits] if console.settings.campaigns.clawback else []


@action("analyst")
async def mark_bad(request: Request, session: Session, fields: dict[str, Any]) -> Response:
    console = console_of(request)
    campaign_id = str(request.path_params["campaign_id"])[:64]
    reason = str(fields.get("reason") or "").strip()[:1000]
    if str(fields.get("confirm") or "") not in ("yes", "true", "True"):
        return refuse(request, 400, "tick the confirmation: marking a campaign bad claws its "
                                    "delivered members back out of the mailboxes")
    if not reason:
        return refuse(request, 400, "give a reason (it goes to the audit log)")
    try:
        clawed = await run(_mark_bad, console, campaign_id, session.user.name, reason)
    except LookupError:
        return refuse(request, 404, "no such campaign")
    except (StoreError, OSError) as exc:
        return refuse(request, 400, f"marking the campaign bad failed: {exc}")
    if is_api(request):
        return JSONResponse({"id": campaign_id, "state": "bad", "clawed_back": clawed})
    message = f"campaign marked bad; {len(clawed)} delivered member(s) clawed back"
    return RedirectResponse(f"/campaigns/{quote(campaign_id, safe='')}?"
                            f"{urlencode({'done': message})}", status_code=303)


def routes() -> list[Route]:
    out: list[Route] = []
    for prefix in ("", "/api"):
        out += [
            Route(f"{prefix}/campaigns", list_campaigns, methods=["GET"]),
            Route(f"{prefix}/campaigns/{{campaign_id}}", show_campaign, methods=["GET"]),
            Route(f"{prefix}/campaigns/{{campaign_id}}/bad", mark_bad, methods=["POST"]),
        ]
    return out
