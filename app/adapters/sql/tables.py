"""The store's tables, as SQLAlchemy Core metadata (Alembic migrations build exactly this)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per policy revision; rows are never updated or deleted.
policy_revisions = sa.Table(
    "policy_revisions",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("guards", sa.Text, nullable=False),
    sa.Column("tests", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("parent", sa.Integer, nullable=True),
)

# The active revision: a single row (id = 1), moved by compare-and-swap.
policy_active = sa.Table(
    "policy_active",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.Integer, sa.ForeignKey("policy_revisions.number"), nullable=False),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("activated_by", sa.String(128), nullable=False),
)

run_reports = sa.Table(
    "run_reports",
    metadata,
    sa.Column("audit_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("body", sa.Text, nullable=False),
)

# The last status report of each OPA sidecar (OPA's status API), for health and /metrics.
sidecars = sa.Table(
    "sidecars",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("bundle_revision", sa.String(128), nullable=True),
    sa.Column("bundle_errors", sa.Text, nullable=False),
    sa.Column("opa_version", sa.String(64), nullable=True),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
)

# Operator controls by name (the kill switch): durable and shared by every proxy of a fleet.
controls = sa.Table(
    "controls",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(128), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
)

# API keys: only the SHA-256 of each key is kept; a key is never stored or logged in clear.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("team", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(128), nullable=True),
)

# Dashboard sessions, shared by every proxy: the cookie's SHA-256, never the cookie.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# Every state change: who, what, when, the request, and hashes of the state before/after.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(256), nullable=True),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("before_hash", sa.String(64), nullable=True),
    sa.Column("after_hash", sa.String(64), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
)

# Every routing decision: the exact OPA input (no prompt text) and result, the revision OPA
# evaluated, where it came from. Written in batches off the request path.
decision_records = sa.Table(
    "decision_records",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(64), nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("audit_id", sa.String(64), nullable=True, index=True),
    sa.Column("revision", sa.String(64), nullable=True, index=True),
    sa.Column("revision_number", sa.Integer, nullable=True),
    sa.Column("allow", sa.Boolean, nullable=False),
    sa.Column("model", sa.String(128), nullable=True, index=True),
    sa.Column("rule", sa.String(128), nullable=True, index=True),
    sa.Column("denial", sa.String(64), nullable=True, index=True),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)

# Live decisions evaluated again under the shadow revision (never enforced).
shadow_results = sa.Table(
    "shadow_results",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(64), nullable=False, index=True),
    sa.Column("shadow_revision", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("agrees", sa.Boolean, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("rule", sa.String(128), nullable=True),
    sa.Column("result", sa.Text, nullable=False),
)

# APScheduler's database job store (app/jobs.py), created by migration 0006.
scheduler_jobs = sa.Table(
    "scheduler_jobs",
    metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)

# Requests refused for capacity alone, queued until the policy allows them (migration 0007;
# app/adapters/sql/jobs.py).
deferred_jobs = sa.Table(
    "deferred_jobs",
    metadata,
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
    sa.Column("callback_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("callback_next_at", sa.Float, nullable=True),
)

# Incidents (one open incident per alert fingerprint) and the outbound work queue to GitHub,
# Jira and Alertmanager (migration 0008; app/adapters/sql/incidents.py).
incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("open_key", sa.String(64), nullable=True, unique=True),
    sa.Column("alertname", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(32), nullable=False),
    sa.Column("model", sa.String(128), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
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

outbound_work = sa.Table(
    "outbound_work",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(32), nullable=False),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=True, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("leased_by", sa.String(64), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("dedupe_key", sa.String(191), nullable=True, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_outbound_work_status_next", outbound_work.c.status, outbound_work.c.next_attempt_at)

# Things done once for the whole fleet (a budget alert per model, level and local day; a
# nightly export per day): whoever inserts the key does the thing.
incident_marks = sa.Table(
    "incident_marks",
    metadata,
    sa.Column("key", sa.String(191), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
