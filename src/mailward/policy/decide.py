"""Policy: a ScanResult becomes a Verdict.

The score picks an action by threshold (tag_at, quarantine_at, reject_at), lowered to the
result's ceiling when only a group that may not decide alone spoke (see
:mod:`mailward.engine.scoring`); force rules raise the
action to at least their own when their symbol fired; a message that was not fully scanned
(``NOT_SCANNED_SYMBOLS``) is quarantined at least, whatever the force list says; a fail-closed
detector that failed gives ``fail_closed_action``. Delivered mail (deliver or tag) gets an
X-Mailward-Verdict header and an RFC 8601 Authentication-Results header; tagged mail optionally
a Subject prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailward.config.settings import LockdownSettings, PolicySettings
from mailward.model import Action, ScanResult, Verdict

#: Symbol the engine raises when a fail-closed detector failed or timed out.
FAIL_CLOSED_SYMBOL = "ENGINE_FAIL_CLOSED"
#: Symbols meaning the message was not (fully) scanned: they keep it in quarantine at least,
#: whatever ``policy.force`` says, so an operator's own force list cannot let such mail through.
NOT_SCANNED_SYMBOLS = ("MIME_UNPARSEABLE", "MIME_TOO_COMPLEX", "ENGINE_SCAN_KILLED")


def decide(
    result: ScanResult,
    policy: PolicySettings,
    *,
    authserv_id: str,
    auth_results: Sequence[str] = (),
    heightened: LockdownSettings | None = None,
    external_links: bool = False,
) -> Verdict:
    """``heightened``: the lockdown settings when a lockdown above normal is in force;
    ``external_links``: the message comes from outside and carries links."""
    force = policy.force
    if heightened is not None:
        f = heightened.heightened_factor
        policy = policy.model_copy(
            update={"tag_at": policy.tag_at * f, "quarantine_at": policy.quarantine_at * f,
                    "reject_at": policy.reject_at * f}
        )
        force = (*force, *heightened.heightened_force)
    action, reason = _by_score(result.score, policy)
    if result.ceiling is not None and action.severity > result.ceiling.severity:
        action = result.ceiling
        reason = f"{reason}, lowered to {action}: {result.ceiling_reason}"
    forced_by: str | None = None
    symbols = result.symbols  # a set made from the findings at each use: made once
    if heightened is not None:
        reason += " (lockdown: heightened thresholds)"
        if heightened.tag_external_links and external_links and action is Action.DELIVER:
            action, reason = Action.TAG, "lockdown: external mail with links is tagged"
    for rule in force:
        if rule.symbol in symbols and rule.action.severity > action.severity:
            action, forced_by = rule.action, rule.symbol
            reason = f"{rule.symbol} forces {rule.action}"
    for symbol in NOT_SCANNED_SYMBOLS:
        if symbol in symbols and Action.QUARANTINE.severity > action.severity:
            action, forced_by = Action.QUARANTINE, symbol
            reason = f"{symbol}: the message was not fully scanned"
    fail_action = Action(policy.fail_closed_action)
    if FAIL_CLOSED_SYMBOL in symbols and fail_action.severity >= action.severity:
        action = fail_action
        forced_by = FAIL_CLOSED_SYMBOL
        reason = "a fail-closed detector could not finish"
    headers: tuple[tuple[str, str], ...] = ()
    prefix = None
    if action in (Action.DELIVER, Action.TAG, Action.DISARM):
        headers = (
            ("X-Mailward-Verdict", verdict_header(action, result)),
            ("Authentication-Results", auth_results_header(authserv_id, auth_results)),
        )
        if action is Action.TAG and policy.subject_prefix:
            prefix = policy.subject_prefix
    return Verdict(
        action=action,
        score=result.score,
        reason=reason,
        findings=result.findings,
        forced_by=forced_by,
        add_headers=headers,
        subject_prefix=prefix,
    )


def _by_score(score: float, policy: PolicySettings) -> tuple[Action, str]:
    if score >= policy.reject_at:
        return Action.REJECT, f"score {score:g} reaches reject_at {policy.reject_at:g}"
    if score >= policy.quarantine_at:
        return (
            Action.QUARANTINE,
            f"score {score:g} reaches quarantine_at {policy.quarantine_at:g}",
        )
    if score >= policy.tag_at:
        return Action.TAG, f"score {score:g} reaches tag_at {policy.tag_at:g}"
    return Action.DELIVER, f"score {score:g} is below tag_at {policy.tag_at:g}"


def verdict_header(action: Action, result: ScanResult) -> str:
    symbols = ",".join(sorted(f.symbol for f in result.findings if f.score != 0))
    value = f"{action}; score={result.score:.2f}"
    return f"{value}; symbols={symbols}" if symbols else value


def auth_results_header(authserv_id: str, results: Sequence[str]) -> str:
    """RFC 8601 value: ``authserv-id; method=result ...`` or ``authserv-id; none``."""
    if not results:
        return f"{authserv_id}; none"
    return f"{authserv_id};\r\n\t" + ";\r\n\t".join(results)
