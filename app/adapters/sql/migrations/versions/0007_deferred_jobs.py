"""Deferred jobs: requests refused for capacity alone, queued until the policy allows them
(see app/adapters/sql/jobs.py).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create deferred_jobs."""
    op.create_table(
        "deferred_jobs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("owner", sa.String(128), nullable=False, index=True),
        sa.Column("planned_model", sa.String(128), nullable=True, index=True),
        sa.Column("opening_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("planned_start", sa.Float, nullable=False, index=True),
        sa.Column("deadline", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("decisions", sa.Text, nullable=False),
        sa.Column("attempts", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("audit_id", sa.String(64), nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("callback_state", sa.String(16), nullable=True, index=True),
        sa.Column("callback_attempts", sa.Integer, nullable=False),
        sa.Column("callback_next_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    """Drop deferred_jobs."""
    op.drop_table("deferred_jobs")
