"""Settings of the ``[activity]`` section: per-account behaviour checks, alerts and responses.

See docs/activity.md for what each key changes. Every threshold and weight is here, so an
operator retunes without code.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Lockdown levels an automatic response may raise to (see mailward.response.lockdown).
LockdownLevel = Literal["heightened", "hold-external", "hold-all"]

#: Default weight of each ACT_ symbol; an incident alerts when its weights reach alert_at.
DEFAULT_WEIGHTS: dict[str, float] = {
    "ACT_SEND_BURST": 6.0,
    "ACT_MASS_NEW_RECIPIENTS": 5.0,
    "ACT_INTERNAL_PHISH": 8.0,
    "ACT_NEW_LOGIN_NETWORK": 3.0,
    "ACT_AUTH_FAILURES": 5.0,
    "ACT_AUTH_SPRAY": 8.0,
    "ACT_CAMPAIGN_BAD": 8.0,
    "ACT_UNUSUAL_HOUR": 3.0,
    "ACT_AUTH_SPRAY_WIDE": 8.0,
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseSettings(_Section):
    """Automatic responses to an alert of one kind; all off by default."""

    #: Hold the account's further outbound mail (in the quarantine, action "hold") until the
    #: alert is closed; closing it releases what was held.
    hold_outbound: bool = False
    #: Raise the lockdown to this level (never lowers it); closing the alert restores the
    #: level it found, unless someone changed the level since.
    raise_lockdown: LockdownLevel | None = None


class ResponsesSettings(_Section):
    account: ResponseSettings = ResponseSettings()
    auth: ResponseSettings = ResponseSettings()
    campaign: ResponseSettings = ResponseSettings()


class WebhookSettings(_Section):
    #: URL alerts are POSTed to (JSON); empty: no webhook.
    url: str = ""
    #: Key of the X-Mailward-Signature HMAC-SHA256 over the body; empty: no signature.
    secret: SecretStr = SecretStr("")
    timeout: float = Field(5.0, gt=0)
    #: Further attempts after a failed one (1 s, 2 s, 4 s ... apart).
    retries: int = Field(3, ge=0, le=10)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return value


class SyslogSettings(_Section):
    enabled: bool = False
    #: "host:port" (UDP) or a Unix socket path such as /dev/log.
    address: str = "/dev/log"
    facility: str = "auth"


class ActivitySettings(_Section):
    """Per-account behaviour baselines, the ACT_ checks, alerts and automatic responses."""

    enabled: bool = True
    #: Days of hourly counters the baselines look back on (and keep).
    baseline_days: float = Field(14.0, gt=0)
    #: An account younger than this (hours since first seen) is still learning: the checks
    #: that compare with its own habits (new networks, new recipients) stay quiet.
    learning_hours: float = Field(72.0, ge=0)
    #: Window of the burst and new-recipient checks, seconds.
    window_seconds: float = Field(600.0, gt=0)
    #: ACT_SEND_BURST: at least this many messages in the window, and more than
    #: burst_factor times the account's busiest hour in its baseline.
    burst_min_messages: int = Field(20, gt=0)
    burst_factor: float = Field(3.0, gt=0)
    #: ACT_MASS_NEW_RECIPIENTS: at least this many recipients the account never wrote to,
    #: in the window (after learning).
    new_recipients_min: int = Field(20, gt=0)
    #: ACT_INTERNAL_PHISH: an internal message whose verdict is one of these actions.
    phish_actions: tuple[str, ...] = ("quarantine", "reject", "disarm")
    #: ACT_NEW_LOGIN_NETWORK: client networks are compared at this prefix length.
    ipv4_prefix: int = Field(24, ge=8, le=32)
    ipv6_prefix: int = Field(64, ge=16, le=128)
    #: ... and this many distinct networks within network_window_seconds also count.
    networks_in_window: int = Field(3, ge=2)
    network_window_seconds: float = Field(900.0, gt=0)
    #: ACT_AUTH_FAILURES: failed AUTH for one login in auth_window_seconds.
    auth_failures_min: int = Field(10, gt=0)
    #: ACT_AUTH_SPRAY: failed AUTH for this many distinct logins from one network.
    spray_logins_min: int = Field(5, ge=2)
    auth_window_seconds: float = Field(900.0, gt=0)
    #: ACT_AUTH_SPRAY_WIDE: failed AUTH for spray_wide_logins_min distinct logins coming from
    #: spray_wide_networks_min distinct client networks, within spray_wide_window_seconds
    #: (a spray spread over a botnet, a few tries per network). A login that succeeded in
    #: the window (a mistyped password, then the right one) does not count.
    spray_wide_logins_min: int = Field(20, ge=2)
    spray_wide_networks_min: int = Field(10, ge=2)
    spray_wide_window_seconds: float = Field(3600.0, gt=0)
    #: ACT_UNUSUAL_HOUR: an account past learning with at least unusual_hour_min_messages
    #: messages in its baseline sends in an hour of day (in ``timezone``) where, counting
    #: unusual_hour_spread hours either side, it sent at most unusual_hour_max_share of its
    #: baseline messages. Alone (weight 3) it stays below alert_at; it adds to other findings.
    unusual_hour_min_messages: int = Field(100, ge=1)
    unusual_hour_max_share: float = Field(0.01, ge=0, lt=1)
    unusual_hour_spread: int = Field(1, ge=0, le=6)
    #: IANA time zone the hours of day are counted in (the organisation's).
    timezone: str = "UTC"
    #: Weight of each symbol (missing ones take the defaults).
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    #: An incident (findings on one subject within incident_seconds) alerts at this weight.
    alert_at: float = Field(5.0, gt=0)
    incident_seconds: float = Field(3600.0, gt=0)
    #: Severity: high at or above severity_high_at, medium at or above severity_medium_at.
    severity_medium_at: float = Field(8.0, gt=0)
    severity_high_at: float = Field(12.0, gt=0)
    #: Hours raw per-message events are kept (the windows need far less).
    event_retention_hours: float = Field(48.0, gt=0)
    webhook: WebhookSettings = WebhookSettings()
    syslog: SyslogSettings = SyslogSettings()
    responses: ResponsesSettings = ResponsesSettings()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: UTC, "
                             "Europe/Paris)") from None
        return value

    @field_validator("weights")
    @classmethod
    def _known_symbols(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(f"unknown activity symbols: {', '.join(unknown)}")
        return {**DEFAULT_WEIGHTS, **value}

    def weight(self, symbol: str) -> float:
        return self.weights.get(symbol, DEFAULT_WEIGHTS.get(symbol, 0.0))
