"""APScheduler's job table (the `store` job store of app/jobs.py).

Created here rather than by APScheduler at start-up, so three proxies starting at once do not
race to create it (migrations run under the store-wide lock). Same columns as APScheduler 3's
SQLAlchemyJobStore.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create scheduler_jobs."""
    op.create_table(
        "scheduler_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    """Drop scheduler_jobs."""
    op.drop_table("scheduler_jobs")
