"""Campaign merging and the wide password-spraying check (issue #12).

``campaign_merges`` records each campaign merged into another (a later message resembled
members of both), so a lookup of the merged id finds the campaign it joined; the index on
``activity_events (kind, at)`` serves ACT_AUTH_SPRAY_WIDE, which counts failed logins of every
account in a window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_merges",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("merged_into", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
    )
    op.create_index("ix_campaign_merges_into", "campaign_merges", ["merged_into"])
    op.create_index("ix_activity_events_kind_at", "activity_events", ["kind", "at"])


def downgrade() -> None:
    op.drop_index("ix_activity_events_kind_at", table_name="activity_events")
    op.drop_index("ix_campaign_merges_into", table_name="campaign_merges")
    op.drop_table("campaign_merges")
