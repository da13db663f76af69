"""Run reports and sidecar status reports.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create run_reports and sidecars."""
    op.create_table(
        "run_reports",
        sa.Column("audit_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_run_reports_created_at", "run_reports", ["created_at"])
    op.create_table(
        "sidecars",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("bundle_revision", sa.String(128), nullable=True),
        sa.Column("bundle_errors", sa.Text, nullable=False),
        sa.Column("opa_version", sa.String(64), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
