"""Decision records and shadow results.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create decision_records and shadow_results."""
    op.create_table(
        "decision_records",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(64), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("audit_id", sa.String(64), nullable=True),
        sa.Column("revision", sa.String(64), nullable=True),
        sa.Column("revision_number", sa.Integer, nullable=True),
        sa.Column("allow", sa.Boolean, nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("denial", sa.String(64), nullable=True),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    for column in ("at", "audit_id", "revision", "model", "rule", "denial"):
        op.create_index(f"ix_decision_records_{column}", "decision_records", [column])
    op.create_table(
        "shadow_results",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(64), nullable=False),
        sa.Column("shadow_revision", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agrees", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("ix_shadow_results_decision_id", "shadow_results", ["decision_id"])
    op.create_index("ix_shadow_results_shadow_revision", "shadow_results", ["shadow_revision"])
