"""Settings read from the environment, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What run reports keep of prompts and answers: nothing but hashes and sizes, redacted text,
# or the full text.
STORE_CONTENT_MODES = ("none", "redacted", "full")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class GitHubSettings:
    """Where incidents are filed on GitHub; all three set or the integration is off."""

    owner: str | None = None
    repo: str | None = None
    token: str | None = field(default=None, repr=False)
    base_url: str = "https://api.github.com"

    @property
    def enabled(self) -> bool:
        """Whether every required value is present."""
        return bool(self.owner and self.repo and self.token)


@dataclass(frozen=True)
class JiraSettings:
    """Where incidents are filed on Jira; all four set or the integration is off."""

    base_url: str | None = None
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    project: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether every required value is present."""
        return bool(self.base_url and self.email and self.api_token and self.project)


def duration_s(value: str | None, default: float) -> float:
    """`90`, `90s`, `30m`, `4h` or `1d` in seconds (ValueError on anything else)."""
    text = (value or "").strip().lower()
    if not text:
        return default
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def _run_reports_mode(value: str | None) -> str:
    """SYMPHONY_GITHUB_RUN_REPORTS: off (default), on (every 5 minutes) or nightly."""
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return "off"
    if text in ("1", "true", "yes", "on"):
        return "on"
    if text == "nightly":
        return "nightly"
    raise ValueError("SYMPHONY_GITHUB_RUN_REPORTS must be off, on or nightly")


@dataclass(frozen=True)
class IncidentSettings:
    """Alertmanager, the incident worker and the jobs beside it (docs/runbooks.md, Incidents)."""

    alertmanager_url: str | None = None
    alertmanager_key: str | None = field(default=None, repr=False)
    silence_s: float = 4 * 3600.0
    jira_issue_type: str = "Task"
    jira_done_transition: str = "Done"
    jira_priorities: tuple[tuple[str, str], ...] = (
        ("critical", "Highest"),
        ("warning", "High"),
        ("info", "Low"),
    )
    worker: bool = True
    poll_s: float = 1.0
    batch: int = 10
    max_attempts: int = 8
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 600.0
    lease_s: float = 120.0
    reconcile_s: float = 30.0
    call_timeout_s: float = 10.0
    github_run_reports: str = "off"
    report_batch: int = 200
    record_retention_days: float = 90.0
    runbook_base: str = "http://127.0.0.1:8787/docs"

    def jira_priority(self, severity: str) -> str | None:
        """The Jira priority name for an alert severity (None: leave Jira's default)."""
        return dict(self.jira_priorities).get(severity)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IncidentSettings:
        """Read SYMPHONY_ALERTMANAGER_*, SYMPHONY_SILENCE_DURATION, SYMPHONY_JIRA_*, ..."""
        base = cls()

        def number(name: str, default: float) -> float:
            raw = env.get(f"SYMPHONY_{name}", "").strip()
            return float(raw) if raw else default

        priorities = base.jira_priorities
        raw = env.get("SYMPHONY_JIRA_PRIORITIES", "").strip()
        if raw:
            pairs = [item.split("=", 1) for item in raw.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("SYMPHONY_JIRA_PRIORITIES: severity=Priority,...")
            priorities = tuple((k.strip(), v.strip()) for k, v in pairs)
        return cls(
            alertmanager_url=(_optional(env, "SYMPHONY_ALERTMANAGER_URL") or "").rstrip("/")
            or None,
            alertmanager_key=_optional(env, "SYMPHONY_ALERTMANAGER_KEY"),
            silence_s=duration_s(env.get("SYMPHONY_SILENCE_DURATION"), base.silence_s),
            jira_issue_type=_optional(env, "SYMPHONY_JIRA_ISSUE_TYPE") or base.jira_issue_type,
            jira_done_transition=_optional(env, "SYMPHONY_JIRA_DONE_TRANSITION")
            or base.jira_done_transition,
            jira_priorities=priorities,
            worker=_flag(env.get("SYMPHONY_INCIDENT_WORKER"), True),
            poll_s=number("INCIDENT_POLL_S", base.poll_s),
            batch=int(number("INCIDENT_BATCH", base.batch)),
            max_attempts=int(number("INCIDENT_MAX_ATTEMPTS", base.max_attempts)),
            backoff_base_s=number("INCIDENT_BACKOFF_S", base.backoff_base_s),
            backoff_cap_s=number("INCIDENT_BACKOFF_CAP_S", base.backoff_cap_s),
            lease_s=number("INCIDENT_LEASE_S", base.lease_s),
            reconcile_s=number("INCIDENT_RECONCILE_S", base.reconcile_s),
            call_timeout_s=number("INCIDENT_CALL_TIMEOUT_S", base.call_timeout_s),
            github_run_reports=_run_reports_mode(env.get("SYMPHONY_GITHUB_RUN_REPORTS")),
            report_batch=int(number("REPORT_BATCH", base.report_batch)),
            record_retention_days=number("RECORD_RETENTION_DAYS", base.record_retention_days),
            runbook_base=(_optional(env, "SYMPHONY_RUNBOOK_BASE") or base.runbook_base).rstrip("/"),
        )


@dataclass(frozen=True)
class Settings:
    """Everything Symphony reads from `SYMPHONY_*` (and GH_*/JIRA_*) variables."""

    opa_url: str = "http://127.0.0.1:8181"
    opa_timeout_s: float = 5.0
    gateway_url: str = "http://127.0.0.1:4000/v1"
    gateway_key: str | None = field(default=None, repr=False)
    local_model_url: str | None = None
    gateway_connect_timeout_s: float = 2.0
    gateway_read_timeout_s: float = 60.0
    max_attempts: int = 3
    redis_url: str | None = None
    database_url: str | None = field(default=None, repr=False)
    opa_binary: str = str(PROJECT_ROOT / ".tools" / "bin" / "opa")
    rego_dir: Path = PROJECT_ROOT / "policy" / "rego"
    revision_grace_s: float = 5.0
    propagation_wait_s: float = 5.0
    bundle_long_polls: int = 4
    policy_file: Path = PROJECT_ROOT / "policy" / "examples" / "default.json"
    data_dir: Path = PROJECT_ROOT / ".data"
    bind: str = "127.0.0.1:8787"
    worker_connections: int = 8192
    header_timeout_s: float = 5.0
    client_timeout_s: float = 30.0
    answer_spin_us: int = 1000
    max_connections_per_client: int = 2048
    max_websockets: int = 1024
    max_websockets_per_client: int = 256
    explain_default: str = "notes"
    max_body_bytes: int = 1_048_576
    client_rate_limit: str | None = None
    web_dist: Path = PROJECT_ROOT / "web" / "dist"
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    stats_interval_s: float = 2.0
    health_interval_s: float = 10.0
    max_concurrent_per_model: int = 16
    background_jobs: bool = True
    version: str = "0.1.0"
    admin_key: str | None = field(default=None, repr=False)
    sidecar_key: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ()
    session_ttl_s: float = 8 * 3600.0
    auth_failure_limit: str = "20/minute"
    store_content: str = "none"
    callback_secret: str | None = field(default=None, repr=False)
    callback_hosts: tuple[str, ...] = ()
    deferred_workers: int = 4
    deferred_poll_s: float = 1.0
    deferred_lease_s: float = 600.0
    deferred_horizon_s: float = 30 * 86400.0
    github: GitHubSettings = GitHubSettings()
    jira: JiraSettings = JiraSettings()
    incidents: IncidentSettings = IncidentSettings()

    def __post_init__(self) -> None:
        if not 0 <= self.answer_spin_us <= 100_000:
            raise ValueError("SYMPHONY_ANSWER_SPIN_US must be between 0 and 100000")
        if self.store_content not in STORE_CONTENT_MODES:
            modes = ", ".join(STORE_CONTENT_MODES)
            raise ValueError(f"SYMPHONY_STORE_CONTENT must be one of {modes}")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; unset values keep their defaults."""
        base = cls()

        def text(name: str, default: str) -> str:
            return env.get(f"SYMPHONY_{name}", "").strip() or default

        def number(name: str, default: float) -> float:
            raw = env.get(f"SYMPHONY_{name}", "").strip()
            return float(raw) if raw else default

        return cls(
            opa_url=text("OPA_URL", base.opa_url).rstrip("/"),
            opa_timeout_s=number("OPA_TIMEOUT_S", base.opa_timeout_s),
            gateway_url=text("GATEWAY_URL", base.gateway_url).rstrip("/"),
            gateway_key=_optional(env, "SYMPHONY_GATEWAY_KEY"),
            local_model_url=(_optional(env, "SYMPHONY_LOCAL_MODEL_URL") or "").rstrip("/") or None,
            gateway_connect_timeout_s=number("GATEWAY_CONNECT_TIMEOUT_S", 2.0),
            gateway_read_timeout_s=number("GATEWAY_READ_TIMEOUT_S", 60.0),
            max_attempts=int(number("MAX_ATTEMPTS", base.max_attempts)),
            redis_url=_optional(env, "SYMPHONY_REDIS_URL"),
            database_url=_optional(env, "SYMPHONY_DATABASE_URL"),
            opa_binary=text("OPA_BINARY", base.opa_binary),
            rego_dir=Path(text("REGO_DIR", str(base.rego_dir))),
            revision_grace_s=number("REVISION_GRACE_S", base.revision_grace_s),
            propagation_wait_s=number("PROPAGATION_WAIT_S", base.propagation_wait_s),
            bundle_long_polls=int(number("BUNDLE_LONG_POLLS", base.bundle_long_polls)),
            policy_file=Path(text("POLICY_FILE", str(base.policy_file))),
            data_dir=Path(text("DATA_DIR", str(base.data_dir))),
            bind=text("BIND", base.bind),
            worker_connections=int(number("WORKER_CONNECTIONS", base.worker_connections)),
            header_timeout_s=number("HEADER_TIMEOUT_S", base.header_timeout_s),
            client_timeout_s=number("CLIENT_TIMEOUT_S", base.client_timeout_s),
            answer_spin_us=int(number("ANSWER_SPIN_US", base.answer_spin_us)),
            max_connections_per_client=int(
                number("MAX_CONNECTIONS_PER_CLIENT", base.max_connections_per_client)
            ),
            max_websockets=int(number("MAX_WEBSOCKETS", base.max_websockets)),
            max_websockets_per_client=int(
                number("MAX_WEBSOCKETS_PER_CLIENT", base.max_websockets_per_client)
            ),
            explain_default=text("EXPLAIN", base.explain_default),
            max_body_bytes=int(number("MAX_BODY_BYTES", base.max_body_bytes)),
            client_rate_limit=_optional(env, "SYMPHONY_CLIENT_RATE_LIMIT"),
            web_dist=Path(text("WEB_DIST", str(base.web_dist))),
            stats_interval_s=number("STATS_INTERVAL_S", base.stats_interval_s),
            health_interval_s=number("HEALTH_INTERVAL_S", base.health_interval_s),
            max_concurrent_per_model=int(
                number("MAX_CONCURRENT_PER_MODEL", base.max_concurrent_per_model)
            ),
            background_jobs=_flag(env.get("SYMPHONY_BACKGROUND_JOBS"), True),
            admin_key=_optional(env, "SYMPHONY_ADMIN_KEY"),
            sidecar_key=_optional(env, "SYMPHONY_SIDECAR_KEY"),
            allowed_origins=tuple(
                origin.strip().rstrip("/")
                for origin in env.get("SYMPHONY_ALLOWED_ORIGINS", "").split(",")
                if origin.strip()
            ),
            session_ttl_s=number("SESSION_TTL_S", base.session_ttl_s),
            auth_failure_limit=text("AUTH_FAILURE_LIMIT", base.auth_failure_limit),
            store_content=text("STORE_CONTENT", base.store_content).lower(),
            callback_secret=_optional(env, "SYMPHONY_CALLBACK_SECRET"),
            callback_hosts=tuple(
                host.strip().lower()
                for host in env.get("SYMPHONY_CALLBACK_HOSTS", "").split(",")
                if host.strip()
            ),
            deferred_workers=int(number("DEFERRED_WORKERS", base.deferred_workers)),
            deferred_poll_s=number("DEFERRED_POLL_S", base.deferred_poll_s),
            deferred_lease_s=number("DEFERRED_LEASE_S", base.deferred_lease_s),
            deferred_horizon_s=number("DEFERRED_HORIZON_S", base.deferred_horizon_s),
            github=GitHubSettings(
                owner=_optional(env, "GH_OWNER"),
                repo=_optional(env, "GH_REPO"),
                token=_optional(env, "GH_TOKEN"),
                base_url=(_optional(env, "GH_API_URL") or "https://api.github.com"),
            ),
            jira=JiraSettings(
                base_url=_optional(env, "JIRA_BASE_URL"),
                email=_optional(env, "JIRA_EMAIL"),
                api_token=_optional(env, "JIRA_API_TOKEN"),
                project=_optional(env, "JIRA_PROJECT"),
            ),
            incidents=IncidentSettings.from_env(env),
        )
