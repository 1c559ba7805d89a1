"""Settings of the ``[ratelimit]`` section: token buckets per client address, per sender and per
recipient, checked at MAIL and RCPT (see docs/ratelimits.md).

Off by default. With ``redis_url`` set the buckets live in Redis and every gateway node shares
them; without it each node keeps its own in memory. When Redis cannot be reached the check is
skipped (fail open): a rate limit never holds up mail wholesale.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailward.networks import check_networks


class BucketSettings(BaseModel):
    """One scope's bucket: ``burst`` tokens at most, refilled at ``per_minute`` tokens a
    minute; each MAIL (client address, sender) or RCPT (recipient) takes one token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Tokens added per minute (the sustained rate). 0 turns this scope off.
    per_minute: float = Field(ge=0)
    #: Most tokens a bucket holds: what an idle client may send at once.
    burst: int = Field(ge=1)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimitSettings(BaseModel):
    """``[ratelimit]``: Postfix anvil / rspamd ratelimit style limits at MAIL and RCPT."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Off by default: nothing is counted and nothing refused.
    enabled: bool = False
    #: redis://[:password@]host:port/db (or rediss://) shared by every gateway node; empty:
    #: buckets in this process's memory (one node).
    redis_url: str = ""
    #: Prefix of the bucket keys in Redis (several gateways may share one Redis).
    key_prefix: str = Field("mailward:rl:", min_length=1, max_length=100)
    #: Seconds to wait for Redis (connect, and each check) before failing open.
    redis_timeout: float = Field(0.5, gt=0, le=30)
    #: After Redis failed, seconds during which checks pass without asking it again.
    redis_retry_seconds: float = Field(5.0, ge=0)
    #: Messages (MAIL commands) per client address; an IPv6 client counts by its
    #: ``client_ipv6_prefix`` network (one host usually holds a whole /64).
    client_address: BucketSettings = BucketSettings(per_minute=60, burst=120)
    client_ipv6_prefix: int = Field(64, ge=32, le=128)
    #: Messages per envelope sender (MAIL FROM address, any case); the null sender of bounces
    #: is not counted here.
    sender: BucketSettings = BucketSettings(per_minute=30, burst=60)
    #: Recipients (RCPT TO addresses, any case): messages each address may receive.
    recipient: BucketSettings = BucketSettings(per_minute=60, burst=120)
    #: Clients in ``organisation.internal_networks`` are not limited (Postfix's default:
    #: smtpd_client_event_limit_exceptions = $mynetworks).
    exempt_internal: bool = True
    #: Clients that authenticated (SMTP AUTH, XCLIENT LOGIN, the milter's auth_authen) are not
    #: limited. Off by default: a compromised account's burst is what the sender limit stops.
    exempt_authenticated: bool = False
    #: More networks (CIDR) whose clients are not limited (monitoring, partner relays).
    exempt_networks: tuple[str, ...] = ()

    @field_validator("exempt_networks")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("redis_url must start with redis://, rediss:// or unix://")
        return value
