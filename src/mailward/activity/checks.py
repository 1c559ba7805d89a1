"""The ACT_ checks: an account's behaviour against its own baseline and the organisation's.

Each check reads the baselines (:mod:`mailward.activity.baseline`) after one event was counted
and returns findings with evidence an analyst can check (counts against the baseline, the
networks, the spool ids of the messages). Weights and thresholds are in ``[activity]``.

Symbols (kind of alert, subject):
ACT_SEND_BURST           (account) at least ``burst_min_messages`` messages within
                         ``window_seconds``, more than ``burst_factor`` times the account's
                         busiest hour of the last ``baseline_days``
ACT_MASS_NEW_RECIPIENTS  (account) at least ``new_recipients_min`` recipients the account never
                         wrote to, within ``window_seconds``; quiet while the account learns
ACT_INTERNAL_PHISH       (account) a message from inside whose verdict is one of
                         ``phish_actions``: lateral phishing
ACT_NEW_LOGIN_NETWORK    (account) a login or submission from a network the account never used
                         (after learning), or ``networks_in_window`` distinct networks within
                         ``network_window_seconds``
ACT_AUTH_FAILURES        (account) ``auth_failures_min`` failed AUTH for one login within
                         ``auth_window_seconds``: password guessing
ACT_AUTH_SPRAY           (auth, the client network) failed AUTH for ``spray_logins_min``
                         distinct logins from one network within ``auth_window_seconds``
ACT_AUTH_SPRAY_WIDE      (auth, subject ``*``) failed AUTH for ``spray_wide_logins_min``
                         distinct logins from ``spray_wide_networks_min`` distinct networks
                         within ``spray_wide_window_seconds`` (logins that succeeded in the
                         window left out): spraying spread over many networks
ACT_UNUSUAL_HOUR         (account) a message in an hour of day (in ``timezone``) where the
                         account's baseline (at least ``unusual_hour_min_messages`` messages,
                         after learning) shows at most ``unusual_hour_max_share`` of its
                         sending, ``unusual_hour_spread`` hours either side included
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailward.activity.baseline import (
    Baselines,
    MessageFacts,
    MessageObservation,
    WindowEvent,
    local_hour,
    refs,
)
from mailward.config.activity import ActivitySettings


@dataclass(frozen=True, slots=True)
class ActivityFinding:
    """One ACT_ finding about a subject (an account, a client network, a campaign)."""

    symbol: str
    kind: str  # the alert kind: "account", "auth" or "campaign"
    subject: str
    weight: float
    explanation: str
    at: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "weight": self.weight, "at": self.at,
                "explanation": self.explanation, "evidence": self.evidence}


def _finding(cfg: ActivitySettings, symbol: str, kind: str, subject: str, at: float,
             explanation: str, **evidence: Any) -> ActivityFinding:
    return ActivityFinding(symbol, kind, subject, cfg.weight(symbol), explanation, at, evidence)


def _learning(cfg: ActivitySettings, facts: MessageFacts, at: float) -> bool:
    return at - facts.first_seen < cfg.learning_hours * 3600


def message_checks(
    cfg: ActivitySettings, base: Baselines, obs: MessageObservation, facts: MessageFacts
) -> list[ActivityFinding]:
    """Every message check, after ``obs`` was counted."""
    window = base.window(obs.account, obs.at - cfg.window_seconds)
    found = [*send_burst(cfg, base, obs, window), *internal_phish(cfg, obs)]
    if not _learning(cfg, facts, obs.at):
        found += mass_new_recipients(cfg, obs, window)
        found += unusual_hour(cfg, base, obs)
    found += login_network(cfg, base, obs.account, obs.network, obs.at, facts)
    return found


def send_burst(cfg: ActivitySettings, base: Baselines, obs: MessageObservation,
               window: list[WindowEvent]) -> list[ActivityFinding]:
    """``window``: the account's messages of the last ``window_seconds``."""
    if len(window) < cfg.burst_min_messages:
        return []
    since = obs.at - cfg.baseline_days * 86400
    peak = base.peak_hour(obs.account, since, obs.at - cfg.window_seconds - 3600, "messages")
    if len(window) <= cfg.burst_factor * peak:
        return []
    return [_finding(
        cfg, "ACT_SEND_BURST", "account", obs.account, obs.at,
        f"{obs.account} sent {len(window)} messages in {cfg.window_seconds:g} s; its busiest "
        f"hour in the last {cfg.baseline_days:g} days had {peak}.",
        messages=len(window), window_seconds=cfg.window_seconds, baseline_peak_hour=peak,
        recipients=sum(e.recipients for e in window), message_ids=refs(window),
    )]


def mass_new_recipients(cfg: ActivitySettings, obs: MessageObservation,
                        window: list[WindowEvent]) -> list[ActivityFinding]:
    new = sum(e.new_recipients for e in window)
    if new < cfg.new_recipients_min:
        return []
    total = sum(e.recipients for e in window)
    return [_finding(
        cfg, "ACT_MASS_NEW_RECIPIENTS", "account", obs.account, obs.at,
        f"{obs.account} wrote to {new} recipients it never wrote to before, in "
        f"{cfg.window_seconds:g} s ({total} recipients in all).",
        new_recipients=new, recipients=total, window_seconds=cfg.window_seconds,
        message_ids=refs([e for e in window if e.new_recipients]),
    )]


def unusual_hour(cfg: ActivitySettings, base: Baselines,
                 obs: MessageObservation) -> list[ActivityFinding]:
    """A message at an hour of day the account (with enough history) hardly ever sends at.
    The current epoch hour is left out of the baseline, so a burst cannot hide itself."""
    since = obs.at - cfg.baseline_days * 86400
    counts = base.hours_of_day(obs.account, since, obs.at - obs.at % 3600, cfg.timezone)
    total = sum(counts)
    if total < cfg.unusual_hour_min_messages:
        return []
    hour = local_hour(int(obs.at // 3600), cfg.timezone)
    near = [(hour + d) % 24 for d in range(-cfg.unusual_hour_spread, cfg.unusual_hour_spread + 1)]
    around = sum(counts[h] for h in near)
    if around > cfg.unusual_hour_max_share * total:
        return []
    usual = [h for h in range(24) if counts[h] > cfg.unusual_hour_max_share * total]
    return [_finding(
        cfg, "ACT_UNUSUAL_HOUR", "account", obs.account, obs.at,
        f"{obs.account} sent a message at {hour:02d}:00-{hour:02d}:59 ({cfg.timezone}); of its "
        f"{total} messages in the last {cfg.baseline_days:g} days, {around} were sent within "
        f"{cfg.unusual_hour_spread} h of that hour.",
        hour=hour, timezone=cfg.timezone, messages_near_hour=around, baseline_messages=total,
        usual_hours=usual, hourly_profile=counts, message_ids=[obs.ref],
    )]


def internal_phish(cfg: ActivitySettings, obs: MessageObservation) -> list[ActivityFinding]:
    action = str(obs.detail.get("action", ""))
    if action not in cfg.phish_actions:
        return []
    return [_finding(
        cfg, "ACT_INTERNAL_PHISH", "account", obs.account, obs.at,
        f"A message from inside, sent by {obs.account}, was judged {action} by the engine "
        "(lateral phishing from a compromised account?).",
        message_ids=[obs.ref], message_id=obs.detail.get("message_id", ""), action=action,
        score=obs.detail.get("score", 0.0), symbols=obs.detail.get("symbols", []),
        recipients=len(obs.recipients),
    )]


def login_network(cfg: ActivitySettings, base: Baselines, account: str, network: str,
                  at: float, facts: MessageFacts) -> list[ActivityFinding]:
    """A network the account never used (after learning), or too many networks at once."""
    if not network:
        return []
    if facts.new_network and facts.known_networks > 0 and not _learning(cfg, facts, at):
        known = [n for n in base.known_networks(account) if n != network]
        return [_finding(
            cfg, "ACT_NEW_LOGIN_NETWORK", "account", account, at,
            f"{account} connected from {network}, a network it never used before.",
            network=network, known_networks=known[-20:],
        )]
    since = at - cfg.network_window_seconds
    if facts.network_last_seen is not None and facts.network_last_seen >= since:
        return []  # a network already in the window: the window's networks did not grow
    recent = base.networks_since(account, since)
    if len(recent) < cfg.networks_in_window:
        return []
    return [_finding(
        cfg, "ACT_NEW_LOGIN_NETWORK", "account", account, at,
        f"{account} connected from {len(recent)} networks within "
        f"{cfg.network_window_seconds:g} s.",
        networks=sorted(recent), window_seconds=cfg.network_window_seconds,
    )]


def auth_failure_checks(cfg: ActivitySettings, base: Baselines, login: str, network: str,
                        at: float) -> list[ActivityFinding]:
    """Password guessing on one login, and spraying over many logins from one network."""
    since = at - cfg.auth_window_seconds
    found: list[ActivityFinding] = []
    mine = base.failed_auth(since, login=login)
    if len(mine) >= cfg.auth_failures_min:
        nets = sorted({n for _, n in mine if n})
        found.append(_finding(
            cfg, "ACT_AUTH_FAILURES", "account", login, at,
            f"{len(mine)} failed AUTH attempts for {login} in {cfg.auth_window_seconds:g} s.",
            failures=len(mine), networks=nets[:20], window_seconds=cfg.auth_window_seconds,
        ))
    if network:
        logins = sorted({a for a, _ in base.failed_auth(since, network=network)})
        if len(logins) >= cfg.spray_logins_min:
            found.append(_finding(
                cfg, "ACT_AUTH_SPRAY", "auth", network, at,
                f"Failed AUTH for {len(logins)} different logins from {network} in "
                f"{cfg.auth_window_seconds:g} s (password spraying).",
                network=network, logins=len(logins), sample_logins=logins[:20],
                window_seconds=cfg.auth_window_seconds,
            ))
    return found + wide_spray(cfg, base, at)


def wide_spray(cfg: ActivitySettings, base: Baselines, at: float) -> list[ActivityFinding]:
    """Failed AUTH for many logins from many networks at once: a spray spread so thin that
    no one network reaches ``spray_logins_min``."""
    spread = base.failed_auth_spread(at - cfg.spray_wide_window_seconds)
    if spread.logins < cfg.spray_wide_logins_min or spread.networks < cfg.spray_wide_networks_min:
        return []
    return [_finding(
        cfg, "ACT_AUTH_SPRAY_WIDE", "auth", "*", at,
        f"Failed AUTH for {spread.logins} different logins from {spread.networks} networks in "
        f"{cfg.spray_wide_window_seconds:g} s (password spraying spread over many networks).",
        logins=spread.logins, networks=spread.networks, sample_logins=spread.sample_logins,
        sample_networks=spread.sample_networks, window_seconds=cfg.spray_wide_window_seconds,
    )]
