"""The cluster's shared held mail and release orders (mailward.cluster.held, docs/cluster.md).

In cluster mode a message a lockdown holds leaves its node's spool for ``held_mail`` (raw bytes
and envelope, state held | released, the node and release order that released it), and a
release is a durable row in ``release_orders`` that any node carries out. Single-node gateways
leave both empty.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_mail",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("held_at", sa.Float, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("flags", sa.Text, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("released_by", sa.String(200)),
        sa.Column("released_at", sa.Float),
        sa.Column("order_id", sa.Integer),
    )
    op.create_index("ix_held_mail_held_at", "held_mail", ["held_at"])
    op.create_index("ix_held_mail_state", "held_mail", ["state"])
    op.create_table(
        "release_orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("done_at", sa.Float),
        sa.Column("done_by", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("release_orders")
    op.drop_index("ix_held_mail_state", table_name="held_mail")
    op.drop_index("ix_held_mail_held_at", table_name="held_mail")
    op.drop_table("held_mail")
