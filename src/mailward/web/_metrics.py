"""Prometheus metrics at /metrics, read from the store and the spool at scrape time.

mailward_messages_total{action}   messages the journal recorded, by action (counter)
mailward_quarantine_held          quarantine entries still held for every recipient (gauge)
mailward_spool_depth              messages in the spool (gauge)
mailward_spool_held               of those, held by a lockdown (gauge)
mailward_spool_retrying           of those, waiting for another delivery attempt (gauge)
mailward_delivery_attempts_queued delivery attempts made so far by the messages still queued
mailward_ratelimit_refused_total{scope}  MAIL/RCPT refused by a rate limit since start (counter)
mailward_ratelimit_failed_open_total     rate limit checks passed unchecked, the store (Redis)
                                         being unavailable, since start (counter)

Like every console route it needs a session, or ``Authorization: Bearer <console.metrics_token>``
when that is set (for the Prometheus scraper).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailward.ratelimit import STATS as RATELIMIT
from mailward.spool.queue import Spool
from mailward.store import _schema as s
from mailward.store.browse import QuarantineBrowser, QuarantineFilter, filter_clauses
from mailward.web._guard import Console, console_of, load_session, run

MAX_STATES_READ = 20_000  # spool state files read per scrape at most


class _GatewayCollector(Collector):
    def __init__(self, console: Console) -> None:
        self._console = console

    def collect(self) -> Iterator[Metric]:
        settings = self._console.settings
        browser: QuarantineBrowser = self._console.browser
        by_action = CounterMetricFamily("mailward_messages", "Messages recorded, by action",
                                        labels=["action"])
        held_q = select(func.count()).select_from(s.quarantine).where(
            *filter_clauses(QuarantineFilter())
        )
        counts = select(s.messages.c.action, func.count()).group_by(s.messages.c.action)
        with browser.connect() as conn:
            for action, n in conn.execute(counts):
                by_action.add_metric([str(action)], float(n))
            held = conn.execute(held_q).scalar_one()
        yield by_action
        yield GaugeMetricFamily("mailward_quarantine_held", "Quarantine entries held",
                                value=float(held))
        spool = Spool(settings.spool_dir)
        ids = spool.ids()
        retrying = attempts = 0
        for entry_id in ids[:MAX_STATES_READ]:
            try:
                state = spool.state(entry_id)
            except (OSError, ValueError):
                continue  # finished while we looked
            attempts += state.attempts
            retrying += state.attempts > 0 and not state.held
        yield GaugeMetricFamily("mailward_spool_depth", "Messages in the spool",
                                value=float(len(ids)))
        yield GaugeMetricFamily("mailward_spool_held", "Spooled messages held by a lockdown",
                                value=float(len(spool.held())))
        yield GaugeMetricFamily("mailward_spool_retrying",
                                "Spooled messages waiting for another delivery attempt",
                                value=float(retrying))
        yield GaugeMetricFamily("mailward_delivery_attempts_queued",
                                "Delivery attempts made by the messages still queued",
                                value=float(attempts))
        yield from _ratelimit_metrics()


def _ratelimit_metrics() -> Iterator[Metric]:
    refused = CounterMetricFamily("mailward_ratelimit_refused",
                                  "MAIL and RCPT refused by a rate limit", labels=["scope"])
    for scope in ("client_address", "sender", "recipient"):
        refused.add_metric([scope], float(RATELIMIT.refused[scope]))
    yield refused
    yield CounterMetricFamily("mailward_ratelimit_failed_open",
                              "Rate limit checks passed unchecked: the bucket store was "
                              "unavailable", value=float(RATELIMIT.failed_open))


def _registry(console: Console) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_GatewayCollector(console))
    return registry


def _bearer_ok(console: Console, request: Request) -> bool:
    token = console.settings.console.metrics_token.get_secret_value()
    sent = request.headers.get("authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


async def metrics(request: Request) -> Response:
    console = console_of(request)
    if not _bearer_ok(console, request) and await load_session(request) is None:
        return Response("log in or send the metrics bearer token\n", status_code=401,
                        media_type="text/plain")
    body = await run(generate_latest, _registry(console))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    return [Route("/metrics", metrics, methods=["GET"])]
