"""The activity tables (own MetaData, created if missing, on the store's URL).

Portable SQLAlchemy Core types only (String, Text, Float, Integer, JSON), times as Float epoch
seconds, so the same tables work on SQLite and PostgreSQL.

activity_accounts       one row per watched account: first and last seen, messages in all
activity_hourly         per account and hour (epoch hour): messages, recipients, external
                        recipients, new recipients, new recipient domains, engine-flagged
                        messages, AUTH successes and failures: the baselines
activity_correspondents who each account has written to (recipients, and "@domain" rows)
activity_networks       client networks each account has sent or logged in from
activity_events         recent raw events (message, auth_ok, auth_fail) for the windows;
                        ``ref`` is unique, so observing a message twice counts it once
activity_findings       ACT_ findings, by alert kind and subject, within an incident
alerts                  one row per incident (kind account, auth or campaign)
activity_holds          outbound messages held by an alert's hold_outbound response
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, MetaData, String, Table, Text

ACTIVITY_METADATA = MetaData()

accounts = Table(
    "activity_accounts",
    ACTIVITY_METADATA,
    Column("account", String(320), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("messages", Integer, nullable=False),
)

hourly = Table(
    "activity_hourly",
    ACTIVITY_METADATA,
    Column("account", String(320), primary_key=True),
    Column("hour", Integer, primary_key=True),
    Column("messages", Integer, nullable=False, default=0),
    Column("recipients", Integer, nullable=False, default=0),
    Column("external_recipients", Integer, nullable=False, default=0),
    Column("new_recipients", Integer, nullable=False, default=0),
    Column("new_domains", Integer, nullable=False, default=0),
    Column("flagged", Integer, nullable=False, default=0),
    Column("auth_ok", Integer, nullable=False, default=0),
    Column("auth_failed", Integer, nullable=False, default=0),
)

COUNTERS = ("messages", "recipients", "external_recipients", "new_recipients", "new_domains",
            "flagged", "auth_ok", "auth_failed")

correspondents = Table(
    "activity_correspondents",
    ACTIVITY_METADATA,
    Column("account", String(320), primary_key=True),
    Column("recipient", String(320), primary_key=True),
    Column("first_seen", Float, nullable=False),
)

networks = Table(
    "activity_networks",
    ACTIVITY_METADATA,
    Column("account", String(320), primary_key=True),
    Column("network", String(64), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("count", Integer, nullable=False),
)

events = Table(
    "activity_events",
    ACTIVITY_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(160), nullable=False, unique=True),
    Column("account", String(320), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", Float, nullable=False),
    Column("network", String(64), nullable=False),
    Column("recipients", Integer, nullable=False),
    Column("new_recipients", Integer, nullable=False),
    Column("flagged", Integer, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_activity_events_account_at", "account", "at"),
    Index("ix_activity_events_network_at", "network", "at"),
    Index("ix_activity_events_kind_at", "kind", "at"),
)

findings = Table(
    "activity_findings",
    ACTIVITY_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("weight", Float, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Index("ix_activity_findings_subject", "kind", "subject", "at"),
)

alerts = Table(
    "alerts",
    ACTIVITY_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("symbols", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("responses", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("acted_by", String(256), nullable=False),
    Column("acted_at", Float, nullable=False),
    Column("note", Text, nullable=False),
    Index("ix_alerts_subject_state", "kind", "subject", "state"),
)

holds = Table(
    "activity_holds",
    ACTIVITY_METADATA,
    Column("message_id", String(128), primary_key=True),
    Column("alert_id", Integer, nullable=False),
    Column("account", String(320), nullable=False),
    Column("action", String(32), nullable=False),  # the verdict the hold replaced
    Column("held_at", Float, nullable=False),
    Column("released_at", Float, nullable=True),
    Index("ix_activity_holds_alert", "alert_id"),
)
