"""Baseline: every table and index of the release before migrations (main at 82b6528).

On a new database it creates the whole schema. On a database that release made (its tables,
no version table) it creates only what is missing (a part never opened there, such as the
journal when it was disabled, or the console's paging indexes), so that database is then at
this revision like any other. The tables are a frozen copy, not the models: later changes to
the models come in later revisions.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_M = sa.MetaData()
_C = sa.Column

sa.Table(
    "messages", _M,
    _C("id", sa.String(128), primary_key=True),
    _C("received_at", sa.Float, nullable=False),
    _C("mail_from", sa.Text, nullable=False),
    _C("rcpt_tos", sa.JSON, nullable=False),
    _C("peer_ip", sa.String(64), nullable=False),
    _C("message_id", sa.Text, nullable=False),
    _C("subject", sa.Text, nullable=False),
    _C("size", sa.Integer, nullable=False),
    _C("sha256", sa.String(64), nullable=False),
    _C("score", sa.Float, nullable=False),
    _C("action", sa.String(32), nullable=False),
    _C("reason", sa.Text, nullable=False),
    _C("findings", sa.JSON, nullable=False),
    sa.Index("ix_messages_received_at", "received_at"),
)
sa.Table(
    "quarantine", _M,
    _C("id", sa.String(128), primary_key=True),
    _C("received_at", sa.Float, nullable=False),
    _C("mail_from", sa.Text, nullable=False),
    _C("rcpt_tos", sa.JSON, nullable=False),
    _C("message_id", sa.Text, nullable=False),
    _C("subject", sa.Text, nullable=False),
    _C("score", sa.Float, nullable=False),
    _C("action", sa.String(32), nullable=False),
    _C("reason", sa.Text, nullable=False),
    _C("findings", sa.JSON, nullable=False),
    _C("size", sa.Integer, nullable=False),
    _C("quarantined_at", sa.Float, nullable=False),
    _C("raw", sa.LargeBinary, nullable=False),
    sa.Index("ix_quarantine_received_at", "received_at"),
    sa.Index("ix_quarantine_received_id", "received_at", "id"),
)
sa.Table(
    "quarantine_recipients", _M,
    _C("quarantine_id", sa.String(128), sa.ForeignKey("quarantine.id"), primary_key=True),
    _C("recipient", sa.String(512), primary_key=True),
    _C("position", sa.Integer, nullable=False),
    _C("status", sa.String(16), nullable=False),
    _C("changed_at", sa.Float, nullable=False),
    sa.Index("ix_quarantine_recipients_recipient", "recipient"),
)
sa.Table(
    "audit_log", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("at", sa.Float, nullable=False),
    _C("actor", sa.String(256), nullable=False),
    _C("action", sa.String(64), nullable=False),
    _C("object_id", sa.String(128), nullable=False),
    _C("recipients", sa.JSON, nullable=False),
    _C("reason", sa.Text, nullable=False),
    sa.Index("ix_audit_log_object_id", "object_id"),
)
sa.Table(
    "sender_history", _M,
    _C("address", sa.String(320), primary_key=True),
    _C("first_seen", sa.Float, nullable=False),
    _C("last_seen", sa.Float, nullable=False),
    _C("count", sa.Integer, nullable=False),
)
sa.Table(
    "classifier_feedback", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("at", sa.Float, nullable=False),
    _C("label", sa.String(16), nullable=False),
    _C("raw", sa.LargeBinary, nullable=False),
    _C("actor", sa.String(256), nullable=False),
    _C("reason", sa.Text, nullable=False),
)
sa.Table(
    "lockdown_state", _M,
    _C("id", sa.Integer, primary_key=True),
    _C("level", sa.String(32), nullable=False),
    _C("changed_at", sa.Float, nullable=False),
    _C("actor", sa.String(200), nullable=False),
    _C("reason", sa.String(2000), nullable=False),
)
sa.Table(
    "journal", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("spool_id", sa.String(128), nullable=False, unique=True),
    _C("received_at", sa.Float, nullable=False),
    _C("mail_from", sa.Text, nullable=False),
    _C("peer_ip", sa.String(64), nullable=False),
    _C("from_address", sa.Text, nullable=False),
    _C("from_domain", sa.String(255), nullable=False),
    _C("subject", sa.Text, nullable=False),
    _C("subject_fp", sa.String(16), nullable=False),
    _C("message_id", sa.Text, nullable=False),
    _C("action", sa.String(32), nullable=False),
    _C("score", sa.Float, nullable=False),
    _C("recipients", sa.JSON, nullable=False),
    _C("details", sa.JSON, nullable=False),
    sa.Index("ix_journal_received_at", "received_at"),
)
sa.Table(
    "journal_copies", _M,
    _C("journal_id", sa.Integer, sa.ForeignKey("journal.id"), primary_key=True),
    _C("recipient", sa.String(512), primary_key=True),
    _C("location", sa.Text, nullable=False),
)
sa.Table(
    "journal_raw", _M,
    _C("journal_id", sa.Integer, sa.ForeignKey("journal.id"), primary_key=True),
    _C("received_at", sa.Float, nullable=False),
    _C("raw", sa.LargeBinary, nullable=False),
    sa.Index("ix_journal_raw_received_at", "received_at"),
)
sa.Table(
    "journal_indicators", _M,
    _C("kind", sa.String(16), primary_key=True),
    _C("value", sa.String(512), primary_key=True),
    _C("received_at", sa.Float, primary_key=True),
    _C("journal_id", sa.Integer, sa.ForeignKey("journal.id"), primary_key=True),
    sqlite_with_rowid=False,
)
sa.Table(
    "console_users", _M,
    _C("name", sa.String(128), primary_key=True),
    _C("password_hash", sa.String(256), nullable=False),
    _C("role", sa.String(16), nullable=False),
    _C("changed_at", sa.Float, nullable=False),
)
sa.Table(
    "console_sessions", _M,
    _C("token_hash", sa.String(64), primary_key=True),
    _C("username", sa.String(128), nullable=False, index=True),
    _C("csrf", sa.String(64), nullable=False),
    _C("created_at", sa.Float, nullable=False),
    _C("last_seen", sa.Float, nullable=False),
)
sa.Table(
    "activity_accounts", _M,
    _C("account", sa.String(320), primary_key=True),
    _C("first_seen", sa.Float, nullable=False),
    _C("last_seen", sa.Float, nullable=False),
    _C("messages", sa.Integer, nullable=False),
)
sa.Table(
    "activity_hourly", _M,
    _C("account", sa.String(320), primary_key=True),
    _C("hour", sa.Integer, primary_key=True),
    *(_C(name, sa.Integer, nullable=False) for name in (
        "messages", "recipients", "external_recipients", "new_recipients", "new_domains",
        "flagged", "auth_ok", "auth_failed")),
)
sa.Table(
    "activity_correspondents", _M,
    _C("account", sa.String(320), primary_key=True),
    _C("recipient", sa.String(320), primary_key=True),
    _C("first_seen", sa.Float, nullable=False),
)
sa.Table(
    "activity_networks", _M,
    _C("account", sa.String(320), primary_key=True),
    _C("network", sa.String(64), primary_key=True),
    _C("first_seen", sa.Float, nullable=False),
    _C("last_seen", sa.Float, nullable=False),
    _C("count", sa.Integer, nullable=False),
)
sa.Table(
    "activity_events", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("ref", sa.String(160), nullable=False, unique=True),
    _C("account", sa.String(320), nullable=False),
    _C("kind", sa.String(16), nullable=False),
    _C("at", sa.Float, nullable=False),
    _C("network", sa.String(64), nullable=False),
    _C("recipients", sa.Integer, nullable=False),
    _C("new_recipients", sa.Integer, nullable=False),
    _C("flagged", sa.Integer, nullable=False),
    _C("detail", sa.JSON, nullable=False),
    sa.Index("ix_activity_events_account_at", "account", "at"),
    sa.Index("ix_activity_events_network_at", "network", "at"),
)
sa.Table(
    "activity_findings", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("kind", sa.String(16), nullable=False),
    _C("subject", sa.String(320), nullable=False),
    _C("symbol", sa.String(64), nullable=False),
    _C("at", sa.Float, nullable=False),
    _C("weight", sa.Float, nullable=False),
    _C("explanation", sa.Text, nullable=False),
    _C("evidence", sa.JSON, nullable=False),
    sa.Index("ix_activity_findings_subject", "kind", "subject", "at"),
)
sa.Table(
    "alerts", _M,
    _C("id", sa.Integer, primary_key=True, autoincrement=True),
    _C("kind", sa.String(16), nullable=False),
    _C("subject", sa.String(320), nullable=False),
    _C("severity", sa.String(16), nullable=False),
    _C("score", sa.Float, nullable=False),
    _C("state", sa.String(16), nullable=False),
    _C("symbols", sa.JSON, nullable=False),
    _C("summary", sa.Text, nullable=False),
    _C("evidence", sa.JSON, nullable=False),
    _C("responses", sa.JSON, nullable=False),
    _C("created_at", sa.Float, nullable=False),
    _C("updated_at", sa.Float, nullable=False),
    _C("acted_by", sa.String(256), nullable=False),
    _C("acted_at", sa.Float, nullable=False),
    _C("note", sa.Text, nullable=False),
    sa.Index("ix_alerts_subject_state", "kind", "subject", "state"),
)
sa.Table(
    "activity_holds", _M,
    _C("message_id", sa.String(128), primary_key=True),
    _C("alert_id", sa.Integer, nullable=False),
    _C("account", sa.String(320), nullable=False),
    _C("action", sa.String(32), nullable=False),
    _C("held_at", sa.Float, nullable=False),
    _C("released_at", sa.Float, nullable=True),
    sa.Index("ix_activity_holds_alert", "alert_id"),
)
sa.Table(
    "campaign_messages", _M,
    _C("spool_id", sa.String(128), primary_key=True),
    _C("at", sa.Float, nullable=False),
    _C("campaign_id", sa.String(32), nullable=False),
    _C("mail_from", sa.String(320), nullable=False),
    _C("from_address", sa.String(320), nullable=False),
    _C("recipients", sa.JSON, nullable=False),
    _C("subject", sa.Text, nullable=False),
    _C("action", sa.String(16), nullable=False),
    _C("score", sa.Float, nullable=False),
    _C("joined_by", sa.String(32), nullable=False),
    _C("cluster_ms", sa.Float, nullable=False),
    _C("indicators", sa.JSON, nullable=False),
    _C("signature", sa.LargeBinary, nullable=False),
    sa.Index("ix_campaign_messages_campaign", "campaign_id", "at"),
    sa.Index("ix_campaign_messages_at", "at"),
)
sa.Table(
    "campaigns", _M,
    _C("id", sa.String(32), primary_key=True),
    _C("first_seen", sa.Float, nullable=False),
    _C("last_seen", sa.Float, nullable=False),
    _C("members", sa.Integer, nullable=False),
    _C("state", sa.String(16), nullable=False),
    _C("bad_at", sa.Float, nullable=True),
    _C("bad_why", sa.Text, nullable=False),
    _C("indicators", sa.JSON, nullable=False),
    sa.Index("ix_campaigns_last_seen", "last_seen"),
)


def upgrade() -> None:
    """Create each missing table (with its indexes) and each missing index of a kept table."""
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in _M.sorted_tables:
        if table.name not in existing:
            table.create(bind)
            continue
        for index in table.indexes:
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    """Drop every table (and so all the data)."""
    _M.drop_all(op.get_bind())
