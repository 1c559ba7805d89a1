"""Index journal_indicators by journal_id.

Purging the journal deletes its oldest rows; each deleted ``journal`` row makes the database
look for the indicator rows that still point at it (the foreign key), and the indicators'
primary key starts with (kind, value), so without this index every such look-up read the
whole indicator table, the journal's largest. On PostgreSQL and SQLite alike.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_journal_indicators_journal_id", "journal_indicators", ["journal_id"])


def downgrade() -> None:
    op.drop_index("ix_journal_indicators_journal_id", table_name="journal_indicators")
