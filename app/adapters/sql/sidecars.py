"""The last status report of every OPA sidecar, shared by the fleet through the store."""

from __future__ import annotations

import json

import sqlalchemy as sa

from app.adapters.sql.revisions import utc
from app.adapters.sql.tables import sidecars
from app.core.bundles import SidecarStatus


class SqlSidecarStatuses:
    """Upserts one row per sidecar name."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def record(self, status: SidecarStatus) -> None:
        """Replace the sidecar's row with its newest report."""
        values = {
            "bundle_revision": status.bundle_revision,
            "bundle_errors": json.dumps(list(status.bundle_errors)),
            "opa_version": status.opa_version,
            "reported_at": utc(status.reported_at),
        }
        with self._engine.begin() as conn:
            updated = conn.execute(
                sa.update(sidecars).where(sidecars.c.name == status.name).values(**values)
            )
            if updated.rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(sidecars).values(name=status.name, **values))
                except sa.exc.IntegrityError:
                    conn.execute(
                        sa.update(sidecars).where(sidecars.c.name == status.name).values(**values)
                    )

    def all(self) -> list[SidecarStatus]:
        """Every sidecar's last report, by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(sidecars).order_by(sidecars.c.name)).all()
        return [
            SidecarStatus(
                name=row.name,
                bundle_revision=row.bundle_revision,
                bundle_errors=tuple(json.loads(row.bundle_errors)),
                opa_version=row.opa_version,
                reported_at=utc(row.reported_at),
            )
            for row in rows
        ]
