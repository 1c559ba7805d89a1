"""Typed settings of the gateway, with the shipped defaults.

Every section forbids unknown keys, so a typo stops start-up with the key's name instead of
being silently ignored. Detector settings live under ``[detectors.<name>]`` and are validated by
each detector's own settings model when the registry is built.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mailward.config.activity import ActivitySettings
from mailward.config.campaigns import CampaignSettings
from mailward.config.cluster import ClusterSettings
from mailward.config.ratelimit import RateLimitSettings
from mailward.model import Action
from mailward.networks import check_networks

_SAFE_SETTING = re.compile(r"[\x20-\x7e]*")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganisationSettings(Section):
    """Who the gateway works for."""

    #: Domains whose mail this gateway accepts from anywhere (the organisation's own).
    #: The embedded default is the documented example domain of RFC 2606.
    accepted_domains: tuple[str, ...] = ("example.com",)
    #: Networks whose clients may relay to outside domains without authenticating.
    internal_networks: tuple[str, ...] = ()
    #: authserv-id written into Authentication-Results.
    authserv_id: str = "mailward.local"

    @field_validator("accepted_domains")
    @classmethod
    def _lower_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lower().rstrip(".") for d in value if d.strip())

    @field_validator("internal_networks")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_networks(value)


class SmtpSettings(Section):
    """The SMTP front end."""

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)
    hostname: str = "mailward.local"
    #: PEM certificate and key for STARTTLS; STARTTLS is offered only when both are set.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Require STARTTLS before MAIL FROM.
    require_tls: bool = False
    #: SIZE limit in bytes; a larger message gets 552.
    max_message_size: int = Field(26_214_400, gt=0)
    max_recipients: int = Field(100, gt=0)
    #: Seconds a client may stay idle between commands.
    command_timeout: float = Field(300.0, gt=0)
    #: Seconds a client may take to send the whole DATA content.
    data_timeout: float = Field(600.0, gt=0)
    #: Least bytes per second of DATA content (Postfix's smtpd_min_data_rate); checked once
    #: ``min_data_rate_grace`` seconds have passed: a client under it gets 421 and is closed, so
    #: a trickle cannot hold a connection slot until data_timeout. 0 turns the check off.
    min_data_rate: int = Field(500, ge=0)
    min_data_rate_grace: float = Field(10.0, gt=0)
    max_connections: int = Field(200, gt=0)
    max_connections_per_ip: int = Field(20, gt=0)
    #: 4xx/5xx replies one connection may get before it is closed with 421.
    max_errors: int = Field(10, gt=0)
    #: Seconds to scan while the client waits for the DATA reply, so reject and tempfail can
    #: be said in SMTP. A scan that takes longer continues from the spool after a 250.
    inline_scan_timeout: float = Field(20.0, ge=0)
    #: SMTP AUTH users: name -> "pbkdf2_sha256$iterations$salt_hex$hash_hex"
    #: (``mailward passwd`` prints one). AUTH is offered only over TLS.
    auth_users: dict[str, str] = Field(default_factory=dict)
    #: Networks (CIDR) of load balancers that put a HAProxy PROXY v1/v2 header in front of each
    #: connection. A connection from them must start with one, and the client it names becomes
    #: the peer (relay policy, per-address limits, Received, logs). Others sending PROXY get 500.
    trusted_proxies: tuple[str, ...] = ()
    #: Networks (CIDR) of filters allowed to use Postfix XCLIENT (NAME ADDR PORT PROTO HELO LOGIN)
    #: to name the real client; XCLIENT is advertised in EHLO to them only.
    xclient_hosts: tuple[str, ...] = ()

    @field_validator("trusted_proxies", "xclient_hosts")
    @classmethod
    def _valid_smtp_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return OrganisationSettings._valid_networks(value)

    @model_validator(mode="after")
    def _tls_pair(self) -> SmtpSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be set together")
        if self.require_tls and self.tls_cert is None:
            raise ValueError("require_tls needs tls_cert and tls_key")
        return self


class LimitSettings(Section):
    """Hard limits of the MIME parser; a message beyond them is quarantined as too complex."""

    max_depth: int = Field(20, gt=0)
    max_parts: int = Field(500, gt=0)
    max_decoded_bytes: int = Field(100_000_000, gt=0)
    max_header_bytes: int = Field(1_000_000, gt=0)
    max_text_chars: int = Field(2_000_000, gt=0)
    max_urls: int = Field(2000, gt=0)
    #: Bytes of the whole message; the parser needs several times this much memory.
    max_message_bytes: int = Field(50_000_000, gt=0)
    #: Headers in the top-level header block (a folded header counts once).
    max_headers: int = Field(1000, gt=0)
    #: RFC 2047 encoded words in the top-level header block.
    max_encoded_words: int = Field(5000, gt=0)
    #: Bytes of the address headers (From, Sender, Reply-To, To, Cc, Bcc, Resent-*) together.
    max_address_bytes: int = Field(256_000, gt=0)
    #: Addresses (@ signs) in those headers together.
    max_addresses: int = Field(5000, gt=0)
    #: How deep comments and groups may nest in one address header.
    max_address_nesting: int = Field(32, gt=0)
    #: Parameters (;) of one Content-Type or Content-Disposition header, in any part.
    max_header_params: int = Field(100, gt=0)


class EngineSettings(Section):
    #: Seconds one detector may take before its result is given up (a finding says so).
    detector_timeout: float = Field(10.0, gt=0)
    #: Detectors not to run, by name.
    disabled: tuple[str, ...] = ()
    #: Concurrent scan/delivery workers of `mailward serve`.
    workers: int = Field(4, gt=0)
    #: Where `mailward serve` scans: "process" in separate scan processes guarded by a
    #: watchdog (a stuck or crashing scan cannot hold up other mail), or "inline" in the
    #: gateway's own event loop. The one-shot commands (scan, eval, hunt...) scan inline.
    isolation: Literal["process", "inline"] = "process"
    #: Scan processes of `mailward serve` (isolation = "process").
    scan_processes: int = Field(2, gt=0)
    #: Seconds one scan may take in a scan process before the watchdog kills the process; the
    #: message is quarantined (ENGINE_SCAN_KILLED). Must exceed detector_timeout.
    scan_hard_timeout: float = Field(60.0, gt=0)
    #: Address-space cap of each scan process in MiB (a memory bomb kills only that process);
    #: 0 for none. A scan process needs about 700 MiB of address space before it scans.
    scan_memory_mb: int = Field(2048, ge=0)
    #: Scans after which a scan process is replaced by a fresh one (Amavis' max_requests), to
    #: bound slow leaks; 0 for never. A process is also replaced at once after a scan that
    #: may have left work running in it (a detector timed out, a thread still runs).
    scan_recycle_after: int = Field(1000, ge=0)

    @model_validator(mode="after")
    def _hard_timeout_above_detectors(self) -> EngineSettings:
        if self.scan_hard_timeout <= self.detector_timeout:
            raise ValueError("scan_hard_timeout must be larger than detector_timeout")
        return self


class SymbolSetting(Section):
    weight: float | None = None
    group: str | None = None
    description: str | None = None


class GroupSetting(Section):
    #: The most this group's symbols may add to a score together (rspamd's max_score).
    max_score: float | None = None
    #: The strongest action this group may cause on its own: when no finding of another
    #: group scores at least ``corroborated_at``, the action by score is lowered to this one
    #: (e.g. the content model may tag, never quarantine or reject, without a second,
    #: independent finding). Force rules still apply. None: no ceiling.
    alone_at_most: Action | None = None
    #: The score a finding of another group needs to count as that second finding.
    corroborated_at: float = Field(1.0, gt=0)
    #: Whether this group's findings count as that second finding for other groups (off for
    #: context that says little alone, such as a first-time sender).
    corroborates: bool = True
    #: Symbols in whose presence the group may not even tag on its own (the action is lowered
    #: to deliver when nothing else corroborates it): a sender proven by DKIM/DMARC whose
    #: claims and links are its own is not judged by its wording alone.
    silenced_by: tuple[str, ...] = ()
    #: Only the strongest finding of the group counts: its symbols say the same thing in
    #: different ways (one brand claim seen by three detectors is one claim).
    strongest_only: bool = False


#: Shipped group settings, kept unless the configuration names the group: the content model
#: may not decide alone; of the symbols of a brand claim (identity, display name, links) only
#: the strongest counts, so one claim counts once; a first-time sender corroborates nothing.
DEFAULT_GROUPS: dict[str, GroupSetting] = {
    "content": GroupSetting(alone_at_most=Action.TAG, silenced_by=("ID_CONSISTENT_PROVEN",)),
    "brand": GroupSetting(strongest_only=True),
    "history": GroupSetting(corroborates=False),
}


class CompositeSetting(Section):
    #: Boolean expression over symbols: SYMBOL, &, |, !, parentheses.
    expression: str
    weight: float
    description: str = ""
    #: Drop the member symbols' scores when the composite fires.
    replace_members: bool = False


#: Money lures: the message asks for money or promises it (fees, prizes, crypto, gift cards,
#: wire transfers, changed bank details, romance, a refund to call about).
_MONEY_LURES = (
    "LURE_ADVANCE_FEE | LURE_PRIZE | LURE_MONEY_BAIT | LURE_CRYPTO | LURE_GIFT_CARD"
    " | LURE_WIRE | LURE_PAYMENT_CHANGE | LURE_ROMANCE | LURE_REFUND_CALLBACK"
)

#: Shipped composites, kept unless the configuration names the composite. One whose members
#: are not all raised by the enabled detectors is left out (a disabled detector is not an error
#: in a composite the operator did not write).
DEFAULT_COMPOSITES: dict[str, CompositeSetting] = {
    # The shape of an advance-fee, prize or investment scam: the message is about money and
    # the answer goes to another mailbox than the one it says it is from, so the conversation
    # leaves the address the reader could check. Two facts of different kinds (structure and
    # wording); in none of the 7,354 legitimate messages of the development corpus.
    "SCAM_REPLY_DIVERTED": CompositeSetting(
        expression=f"IMP_REPLY_TO_DIVERT & ({_MONEY_LURES})",
        weight=3.0,
        description=(
            "The message is about money (a fee, prize, investment or payment) and replies go "
            "to another, unrelated mailbox than the sender's: the shape of an advance-fee scam."
        ),
    ),
}


class ScoringSettings(Section):
    symbols: dict[str, SymbolSetting] = Field(default_factory=dict)
    #: Group settings; the DEFAULT_GROUPS are added unless configured here by name.
    groups: dict[str, GroupSetting] = Field(default_factory=lambda: dict(DEFAULT_GROUPS))
    #: Composites; the DEFAULT_COMPOSITES are added unless configured here by name.
    composites: dict[str, CompositeSetting] = Field(
        default_factory=lambda: dict(DEFAULT_COMPOSITES)
    )

    @field_validator("groups")
    @classmethod
    def _default_groups(cls, value: dict[str, GroupSetting]) -> dict[str, GroupSetting]:
        return {**DEFAULT_GROUPS, **value}

    @field_validator("composites")
    @classmethod
    def _default_composites(
        cls, value: dict[str, CompositeSetting]
    ) -> dict[str, CompositeSetting]:
        return {**DEFAULT_COMPOSITES, **value}


class ForceRule(Section):
    """When ``symbol`` fires, the action is at least ``action``, whatever the score."""

    symbol: str
    action: Action


#: Incoming headers that look like a verdict or an authentication result (RFC 8601 5): removed
#: from every delivered copy. Globs, any case.
STRIP_INBOUND_HEADERS = (
    "Authentication-Results",
    "X-Original-Authentication-Results",
    "Received-SPF",
    "X-Spam*",
    "X-Virus*",
    "X-Mailward-*",
    "X-Amavis*",
    "X-Quarantine*",
    "X-MS-Exchange-Organization-*",
    "X-Forefront-Antispam-Report*",
    "X-Microsoft-Antispam*",
    "X-Proofpoint-*Spam*",
    "X-Proofpoint-Virus*",
    "X-Barracuda-*",
    "X-MailScanner-*",
    "X-*-MailScanner-*",
    "X-Rspamd-*",
    "X-Mimecast-Spam-*",
    "X-Bogosity",
    "X-DSPAM-*",
)
#: Headers delivery needs: no strip pattern may match them (ARC-* and DKIM-Signature are
#: never stripped either).
_NEEDED_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "mime-version",
                   "content-type", "content-transfer-encoding", "received", "return-path",
                   "sender", "reply-to")
_HEADER_GLOB = re.compile(r"[!-9;-~]+")  # printable ASCII without ":"


class OutboundPolicySettings(Section):
    """``[policy.outbound]``: mail from authenticated users and internal networks. Each
    threshold left unset is the inbound one; ``force`` rules are added to the inbound ones."""

    tag_at: float | None = None
    quarantine_at: float | None = None
    reject_at: float | None = None
    force: tuple[ForceRule, ...] = ()


class PolicySettings(Section):
    tag_at: float = 5.0
    quarantine_at: float = 10.0
    reject_at: float = 20.0
    force: tuple[ForceRule, ...] = (
        ForceRule(symbol="ATT_EXECUTABLE", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_ARCHIVE_EXECUTABLE", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_ARCHIVE_TOO_COMPLEX", action=Action.QUARANTINE),
        ForceRule(symbol="DOC_EMBEDDED_EXECUTABLE", action=Action.QUARANTINE),
        # documents that run or fetch code when opened without a macro prompt to disarm:
        # DDE fields, Excel 4.0 macro sheets, remote templates and external OLE objects
        ForceRule(symbol="DOC_DDE", action=Action.QUARANTINE),
        ForceRule(symbol="DOC_XLM_MACRO", action=Action.QUARANTINE),
        ForceRule(symbol="DOC_REMOTE_TEMPLATE", action=Action.QUARANTINE),
        # disk images and shortcut-like files: Windows mounts or follows them on a double-click
        ForceRule(symbol="ATT_CONTAINER_IMAGE", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_SHELL_SHORTCUT", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_ONENOTE_EMBEDDED", action=Action.QUARANTINE),
        # the EICAR anti-virus test file: treated as a virus, so the path can be tested
        ForceRule(symbol="AV_EICAR_TEST", action=Action.REJECT),
        # the operator's policy on attachment names and types ([detectors.attachments])
        ForceRule(symbol="ATT_BLOCKED_TYPE", action=Action.QUARANTINE),
        ForceRule(symbol="DOC_MACRO", action=Action.DISARM),
        ForceRule(symbol="MIME_UNPARSEABLE", action=Action.QUARANTINE),
        ForceRule(symbol="MIME_TOO_COMPLEX", action=Action.QUARANTINE),
        # an ambiguous message whose readings could not all be built and scanned
        ForceRule(symbol="MIME_READINGS_INCOMPLETE", action=Action.QUARANTINE),
        ForceRule(symbol="ENGINE_SCAN_KILLED", action=Action.QUARANTINE),
        # a virus the antivirus scanner named is never delivered, whatever credit the sender has
        ForceRule(symbol="AV_VIRUS", action=Action.QUARANTINE),
        # the sender domain's DMARC policy, as applied by the auth detector; a reject after
        # the message was accepted (250) becomes a quarantine
        ForceRule(symbol="AUTH_DMARC_REJECT", action=Action.REJECT),
        ForceRule(symbol="AUTH_DMARC_QUARANTINE", action=Action.QUARANTINE),
        # a From that readers could see as another sender is a claim without evidence
        ForceRule(symbol="AUTH_FROM_AMBIGUOUS", action=Action.TAG),
    )
    #: Prefix for the Subject of tagged mail; empty for none.
    subject_prefix: str = "[SUSPICIOUS]"
    #: A detector failure whose detector is fail-closed gives this action.
    fail_closed_action: Literal["tempfail", "quarantine"] = "tempfail"
    #: Incoming headers removed from every delivered copy (deliver, tag, disarm, release):
    #: other filters' verdicts and authentication results a sender may have forged. Globs,
    #: any case; Authentication-Results of [detectors.auth] trust_authentication_results_from
    #: are kept. The gateway's own headers are added after this.
    strip_inbound_headers: tuple[str, ...] = STRIP_INBOUND_HEADERS
    #: Thresholds and extra force rules for outbound and internal mail.
    outbound: OutboundPolicySettings = OutboundPolicySettings()

    def for_outbound(self) -> PolicySettings:
        """This policy as it applies to mail from inside (authenticated or internal)."""
        o = self.outbound
        return self.model_copy(update={
            "tag_at": self.tag_at if o.tag_at is None else o.tag_at,
            "quarantine_at": self.quarantine_at if o.quarantine_at is None else o.quarantine_at,
            "reject_at": self.reject_at if o.reject_at is None else o.reject_at,
            "force": (*self.force, *o.force),
        })

    @field_validator("strip_inbound_headers")
    @classmethod
    def _header_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not _HEADER_GLOB.fullmatch(pattern):
                raise ValueError(f"{pattern!r} is not a header name pattern")
            hit = [n for n in _NEEDED_HEADERS if fnmatch.fnmatchcase(n, pattern.lower())]
            if hit:
                raise ValueError(f"{pattern!r} would remove {hit[0]}, which delivery needs")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> PolicySettings:
        if not self.tag_at <= self.quarantine_at <= self.reject_at:
            raise ValueError("thresholds must satisfy tag_at <= quarantine_at <= reject_at")
        out = self.for_outbound() if self.outbound != OutboundPolicySettings() else self
        if not out.tag_at <= out.quarantine_at <= out.reject_at:
            raise ValueError("[policy.outbound] thresholds must satisfy "
                             "tag_at <= quarantine_at <= reject_at")
        return self


class LockdownSettings(Section):
    """What the lockdown levels change (see mailward.response.lockdown)."""

    #: At heightened and above, tag_at / quarantine_at / reject_at are multiplied by this.
    heightened_factor: float = Field(0.6, gt=0, le=1)
    #: Extra force rules at heightened and above (stricter attachment policy).
    heightened_force: tuple[ForceRule, ...] = (
        ForceRule(symbol="DOC_MACRO", action=Action.QUARANTINE),
        ForceRule(symbol="DOC_ENCRYPTED", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_ARCHIVE_ENCRYPTED", action=Action.QUARANTINE),
        ForceRule(symbol="ATT_CONTAINER_IMAGE", action=Action.QUARANTINE),
        ForceRule(symbol="HTML_SMUGGLING", action=Action.QUARANTINE),
    )
    #: At heightened and above, external mail with links is at least tagged.
    tag_external_links: bool = True
    #: At hold-all, new mail gets 4xx once this many messages are held (in a cluster: the
    #: shared store's held mail, counted at most once a second, plus the node's own spool).
    max_held_messages: int = Field(100_000, gt=0)
    #: `mailward lockdown release`: messages per batch, and batches are paced to this rate.
    release_batch_size: int = Field(100, gt=0)
    release_rate: float = Field(50.0, gt=0)


class RelaySettings(Section):
    host: str | None = None
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = Field(60.0, gt=0)


class LmtpSettings(Section):
    """The mail store's LMTP service (Dovecot, Cyrus), for ``delivery.inbound = "lmtp"``."""

    host: str | None = None
    port: int = Field(24, ge=1, le=65535)
    #: A Unix socket instead of host and port (e.g. /var/run/dovecot/lmtp).
    path: str | None = None
    timeout: float = Field(60.0, gt=0)


class DeliverySettings(Section):
    #: Where mail for the accepted domains goes: Maildirs under data_dir, the relay, or the
    #: mail store over LMTP (one reply per recipient; see [delivery.lmtp]).
    inbound: Literal["maildir", "relay", "lmtp"] = "maildir"
    relay: RelaySettings = RelaySettings()
    lmtp: LmtpSettings = LmtpSettings()
    #: First retry delay in seconds; each further retry doubles it up to retry_max.
    retry_initial: float = Field(60.0, gt=0)
    retry_max: float = Field(3600.0, gt=0)
    #: Seconds after arrival when undeliverable mail is bounced to its sender.
    expire_after: float = Field(5 * 86400.0, gt=0)


class DnsSettings(Section):
    """The resolver detectors use (SPF, DKIM, DMARC, ...)."""

    #: Off: no lookups at all; checks that need DNS are skipped (eval does this by default).
    enabled: bool = True
    #: Name servers to ask; empty means the system's (/etc/resolv.conf).
    nameservers: tuple[str, ...] = ()
    port: int = Field(53, ge=1, le=65535)
    timeout: float = Field(3.0, gt=0)


class FeedSettings(Section):
    """Local threat feeds: files of URLs, domains or hashes (plain text or CSV)."""

    paths: tuple[Path, ...] = ()
    #: Seconds between checks for changed feed files (by the feeds detector while scanning).
    reload_interval: float = Field(30.0, gt=0)


class ClawbackSettings(Section):
    """The ``[clawback]`` section: how to reach the mail store and what to do with copies."""

    imap_host: str | None = None
    imap_port: int = Field(143, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    master_user: str = ""
    master_password: SecretStr = SecretStr("")
    user_separator: str = Field("*", min_length=1, max_length=1)
    mode: Literal["move", "delete"] = "move"
    quarantine_folder: str = Field("Quarantine", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    mailboxes: tuple[str, ...] = ("INBOX",)
    timeout: float = Field(30.0, gt=0)

    @field_validator("imap_host", "master_user", "user_separator", "mailboxes", "master_password")
    @classmethod
    def _printable(cls, value: object) -> object:
        texts = value if isinstance(value, tuple) else (value,)
        for text in texts:
            raw = text.get_secret_value() if isinstance(text, SecretStr) else text
            if raw is not None and not _SAFE_SETTING.fullmatch(str(raw)):
                raise ValueError("must be printable ASCII (no control characters)")
        return value


class JournalSettings(Section):
    """The delivery journal behind `mailward hunt` and `mailward clawback`."""

    enabled: bool = True
    #: Days the raw bytes of delivered mail are kept (for re-scans); the index stays longer.
    raw_retention_days: float = Field(30.0, gt=0)
    #: Days journal entries (who got what, where) are kept.
    entry_retention_days: float = Field(365.0, gt=0)
    #: Zero-hour purge: when the threat feeds change, mail delivered in the last this many hours
    #: is re-scanned and what now scores as quarantine or reject is clawed back (0: off).
    zero_hour_hours: float = Field(24.0, ge=0)
    #: Seconds between checks of the feeds for a zero-hour purge.
    zero_hour_check_seconds: float = Field(10.0, gt=0)
    #: Reload the configuration when its file or the YARA rules folder changes (checked every
    #: zero_hour_check_seconds); SIGHUP (`mailward reload`) always reloads. A reload that
    #: changes rules is followed by a zero-hour purge.
    watch_config: bool = True


class BrandsSettings(Section):
    """The brand registry (docs/brands.md): the shipped brands.toml and esps.toml, extended
    and overridden by the operator's file of the same format."""

    #: The operator's brands file: an entry with a shipped id replaces it, `disabled = true`
    #: removes it, new ids add brands or ESPs. Checked at start-up and reload.
    file: Path | None = None


class ConsoleSettings(Section):
    """The analyst web console and its JSON API (:mod:`mailward.web`), off unless a port is set."""

    #: Address to bind; keep 127.0.0.1 unless TLS is set and the port is firewalled.
    listen_host: str = "127.0.0.1"
    #: TCP port; 0 (the default) turns the console off.
    listen_port: int = Field(0, ge=0, le=65535)
    #: PEM certificate and key: HTTPS when both are set (and the session cookie is Secure).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: A session ends after this many seconds without a request...
    session_idle_seconds: float = Field(1800.0, gt=0)
    #: ...and this many seconds after login, whatever happens.
    session_max_seconds: float = Field(12 * 3600.0, gt=0)
    #: Failed logins allowed per client address, and per user name, in ``login_window_seconds``.
    login_failures_per_address: int = Field(10, gt=0)
    login_failures_per_user: int = Field(5, gt=0)
    login_window_seconds: float = Field(300.0, gt=0)
    #: Entries on one quarantine list page.
    page_size: int = Field(50, gt=0, le=500)
    #: A bearer token that opens /metrics to a scraper without a session ("" = sessions only).
    metrics_token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _tls_pair(self) -> ConsoleSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("console.tls_cert and console.tls_key must be set together")
        return self


class MilterSettings(Section):
    """The milter front end for Postfix/Sendmail (docs/milter.md); off unless ``listen`` is set."""

    #: Where to listen: "inet:HOST:PORT" or "unix:/path/to/socket"; empty: no milter listener.
    listen: str = ""
    #: Permission bits of a Unix socket (Postfix's smtpd must be able to connect to it).
    socket_mode: int = Field(0o660, ge=0, le=0o777)
    #: Quarantine and lockdown holds: "mailward" keeps the original in mailward's quarantine or
    #: spool and tells the MTA to discard it; "postfix" puts it in Postfix's hold queue
    #: (SMFIR_QUARANTINE; released with `postsuper -H`, see docs/milter.md).
    hold: Literal["mailward", "postfix"] = "mailward"
    #: "HOST:PORT" of an MTA listener without milters (a second Postfix smtpd) where mail that
    #: mailward held or quarantined is delivered when it is released.
    reinject: str = ""
    #: Seconds the MTA waits at end of message while mailward scans; a longer scan answers
    #: tempfail (the MTA's client retries). Keep it below Postfix's milter_content_timeout.
    scan_timeout: float = Field(60.0, gt=0)

    @field_validator("listen")
    @classmethod
    def _listen_form(cls, value: str) -> str:
        if value and not re.fullmatch(r"inet6?:[^\s]*:\d{1,5}|unix:/[^\s]+", value):
            raise ValueError('listen must be "inet:HOST:PORT" or "unix:/absolute/path"')
        return value

    @field_validator("reinject")
    @classmethod
    def _reinject_form(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^\s]+:\d{1,5}", value):
            raise ValueError('reinject must be "HOST:PORT"')
        return value


class StoreSettings(Section):
    #: SQLAlchemy URL; empty means SQLite at <data_dir>/mailward.db.
    url: str = ""


class Settings(Section):
    """All settings. Load with :func:`mailward.config.load_settings`."""

    data_dir: Path = Path("mailward-data")
    organisation: OrganisationSettings = OrganisationSettings()
    smtp: SmtpSettings = SmtpSettings()
    limits: LimitSettings = LimitSettings()
    engine: EngineSettings = EngineSettings()
    scoring: ScoringSettings = ScoringSettings()
    policy: PolicySettings = PolicySettings()
    delivery: DeliverySettings = DeliverySettings()
    store: StoreSettings = StoreSettings()
    dns: DnsSettings = DnsSettings()
    feeds: FeedSettings = FeedSettings()
    lockdown: LockdownSettings = LockdownSettings()
    clawback: ClawbackSettings = ClawbackSettings()
    journal: JournalSettings = JournalSettings()
    brands: BrandsSettings = BrandsSettings()
    console: ConsoleSettings = ConsoleSettings()


    milter: MilterSettings = MilterSettings()
    activity: ActivitySettings = ActivitySettings()
    campaigns: CampaignSettings = CampaignSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    cluster: ClusterSettings = ClusterSettings()
    #: Per-detector settings, validated by each detector's own model.
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def maildir_root(self) -> Path:
        return self.data_dir / "maildir"

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.data_dir / 'mailward.db'}"
