"""The overview page (and /api/overview): the last 24 hours of mail as charts drawn by Chart.js,
served from the package's static folder (no CDN), with the same figures as tables beneath."""

from __future__ import annotations

import datetime
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailward.store.stats import FlowStats, MailStats
from mailward.web._accounts import Session
from mailward.web._guard import console_of, is_api, page, run


def _stats(url: str, now: float) -> FlowStats:
    stats = MailStats(url)
    try:
        return stats.flow(now)
    finally:
        stats.close()


def overview_json(flow: FlowStats) -> dict[str, Any]:
    def hour(ts: float) -> str:
        return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%H:00")

    return {
        "since": flow.since, "total": flow.total, "sampled": flow.sampled,
        "hours": [hour(h) for h in flow.hours], "by_action": flow.by_action,
        "top_symbols": flow.top_symbols, "top_recipients": flow.top_recipients,
        "top_sender_domains": flow.top_sender_domains,
    }  # fmt: skip


@page()
async def overview(request: Request, session: Session) -> Response:
    console = console_of(request)
    flow = await run(_stats, console.settings.store_url, time.time())
    data = overview_json(flow)
    if is_api(request):
        return JSONResponse(data)
    return console.render(request, "overview.html", data=data, flow=flow)


def routes() -> list[Route]:
    return [Route("/overview", overview, methods=["GET"]),
            Route("/api/overview", overview, methods=["GET"])]
