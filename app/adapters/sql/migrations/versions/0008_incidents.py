"""Incidents (one open incident per alert fingerprint), the outbound work queue, and marks
(things done once per fleet, such as a budget alert per model and day).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create incidents, outbound_work and incident_marks."""
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(64), nullable=True, unique=True),
        sa.Column("alertname", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text, nullable=False),
        sa.Column("notifications", sa.Integer, nullable=False),
        sa.Column("github_number", sa.Integer, nullable=True),
        sa.Column("github_url", sa.String(512), nullable=True),
        sa.Column("jira_key", sa.String(64), nullable=True),
        sa.Column("jira_url", sa.String(512), nullable=True),
        sa.Column("silence_id", sa.String(64), nullable=True),
        sa.Column("last_event", sa.String(256), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("problem", sa.Text, nullable=True),
    )
    op.create_index("ix_incidents_fingerprint", "incidents", ["fingerprint"])
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "outbound_work",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("dedupe_key", sa.String(191), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outbound_work_incident_id", "outbound_work", ["incident_id"])
    op.create_index("ix_outbound_work_next_attempt_at", "outbound_work", ["next_attempt_at"])
    op.create_index("ix_outbound_work_status_next", "outbound_work", ["status", "next_attempt_at"])
    op.create_table(
        "incident_marks",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop incident_marks, outbound_work and incidents."""
    op.drop_table("incident_marks")
    op.drop_table("outbound_work")
    op.drop_table("incidents")
