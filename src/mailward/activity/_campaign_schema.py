"""The campaign tables (own MetaData, created if missing, on the store's URL; portable types,
times as Float epoch seconds, so the same tables work on SQLite and PostgreSQL).

campaign_messages  every scanned message of the last ``[campaigns] window_hours`` (and every
                   member of a campaign until ``retention_days``): spool id, time, cluster
                   (campaign) id, senders, recipients, subject, verdict, how it joined and
                   the CPU ms that took, its indicators and its MinHash signature (the
                   in-memory LSH index is rebuilt from these rows)
campaigns          one row per cluster that reached ``min_members``: id, first and last seen,
                   member count, state (active | bad), why and when it was found bad, and the
                   indicators its members share
campaign_merges    one row per cluster (campaign or not yet one) merged into another (a
                   later message resembled members of both): the merged id, the id kept,
                   when, how many members; a lookup of the merged id finds the campaign it
                   is part of (also for another node that still knows the old id)
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

CAMPAIGN_METADATA = MetaData()

messages = Table(
    "campaign_messages",
    CAMPAIGN_METADATA,
    Column("spool_id", String(128), primary_key=True),
    Column("at", Float, nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("mail_from", String(320), nullable=False),
    Column("from_address", String(320), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("action", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("joined_by", String(32), nullable=False),  # content | link | attachment | infra | new
    Column("cluster_ms", Float, nullable=False),  # CPU time it took to cluster the message
    Column("indicators", JSON, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Index("ix_campaign_messages_campaign", "campaign_id", "at"),
    Index("ix_campaign_messages_at", "at"),
)

campaigns = Table(
    "campaigns",
    CAMPAIGN_METADATA,
    Column("id", String(32), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("members", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active | bad
    Column("bad_at", Float, nullable=True),
    Column("bad_why", Text, nullable=False),
    Column("indicators", JSON, nullable=False),
    Index("ix_campaigns_last_seen", "last_seen"),
)

merges = Table(
    "campaign_merges",
    CAMPAIGN_METADATA,
    Column("id", String(32), primary_key=True),
    Column("merged_into", String(32), nullable=False),
    Column("at", Float, nullable=False),
    Column("members", Integer, nullable=False),
    Index("ix_campaign_merges_into", "merged_into"),
)
