// Shapes of the HTTP and websocket contract (docs/api.md), as the dashboard reads them.

export type Risk = 'low' | 'medium' | 'high';
export type ExplainMode = 'off' | 'notes' | 'full';

export interface FieldError {
  field: string;
  message: string;
}

/** Every error body: `{"error", "message", "errors": [...]}` plus call-specific extras. */
export interface ApiErrorBody {
  error: string;
  message?: string;
  errors?: FieldError[];
  decision?: Decision;
  attempts?: Attempt[];
  audit_id?: string | null;
  detail?: string;
  /** 412 `precondition_failed`: the revision that is active now. */
  current?: PolicyRevisionRef;
  /** 503 `policy_revision_mismatch` and (when sent) denials: the refused decision's id. */
  decision_id?: string;
  /** 403 `forbidden`: the role the call needs. */
  required_role?: Role;
}

/** What a key may do; the server sends the effective set (admin ⊃ governor ⊃ operator, admin ⊃ client). */
export type Role = 'client' | 'operator' | 'governor' | 'admin';

/** GET/POST /session: who is signed in, and the token every state-changing call must echo. */
export interface Session {
  name: string;
  roles: Role[];
  team: string | null;
  /** Null only when GET /session identifies a bearer key rather than a session (never the dashboard's case). */
  csrf_token: string | null;
  expires_at: string | null;
}

export interface RouteRequest {
  task: string;
  loa: number;
  risk?: Risk;
  stream?: boolean;
  input?: string;
}

export interface Reason {
  model: string;
  reason: string;
  detail: string;
}

export interface Decision {
  allow: boolean;
  model: string | null;
  rule: string | null;
  denial: string | null;
  denial_kind: string | null;
  route?: Record<string, unknown> | null;
  candidates?: string[];
  eligible?: string[];
  reasons: Reason[];
  estimated_cost_usd?: Record<string, number>;
}

export interface Explain {
  reasons: Reason[];
  trace?: string[];
}

export interface PlanResponse {
  decision: Decision;
  explain: Explain | null;
  decision_id: string;
  policy_version: number;
}

export interface Attempt {
  model: string;
  outcome: string;
  status: number | null;
  latency_ms: number;
  detail: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  estimated: boolean;
}

export interface ExecuteSummary {
  audit_id: string;
  decision_id: string;
  latency_ms: number;
  model: string;
  rule: string;
  output: { text: string };
  usage: Usage;
  cost_usd: number;
  attempts: Attempt[];
  explain?: Explain | null;
}

/** One stored revision of the policy; `label` is the document's own version string. */
export interface PolicyMeta {
  version: number;
  updated_by?: string | null;
  request_id?: string | null;
  updated_at?: string | null;
  label?: string | null;
  /** sha256 of the stored document, hex. */
  hash?: string | null;
  reason?: string | null;
}

/** GET /policy and a successful PUT /policy: the active revision and how to name it in If-Match. */
export interface PolicyResponse extends PolicyMeta {
  hash: string;
  /** `"r<version>-<first 16 hex of hash>"`, quotes included; null when the server sent none. */
  etag: string | null;
  document: Record<string, unknown>;
  guards?: Record<string, string>;
  /** On write answers: whether this proxy's OPA sidecar already runs the new revision. */
  sidecar?: { bundle_revision: string | null; in_step: boolean };
}

/** The revision a 412 names as active instead of the one the If-Match header carried. */
export interface PolicyRevisionRef {
  version: number;
  etag: string;
  updated_by?: string | null;
  updated_at?: string | null;
}

export interface PolicyHistory {
  versions: PolicyMeta[];
}

export interface ValidationResult {
  valid: boolean;
  errors: FieldError[];
}

export interface KillSwitchState {
  kill_switch: boolean;
  updated_by: string | null;
  updated_at: string | null;
  /** Why whoever set it did so (null before reasons were required). */
  reason: string | null;
}

/** The kill switch as the server words it: `kill_switch` today, `on` in the access-control contract. */
export interface KillSwitchWire {
  kill_switch?: boolean;
  on?: boolean;
  updated_by?: string | null;
  updated_at?: string | null;
  reason?: string | null;
}

export type AuditKind =
  | 'policy.revision'
  | 'policy.guard'
  | 'policy.rollback'
  | 'policy.bundle'
  | 'kill_switch'
  | 'key.created'
  | 'key.revoked'
  | 'session.login'
  | 'session.logout'
  | 'session.login_failed';

/** One entry of the audit trail: who changed what, with the content hashes either side. */
export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  /** One of AuditKind, or a kind this dashboard does not know yet. */
  kind: string;
  subject: string | null;
  request_id: string | null;
  before_hash: string | null;
  after_hash: string | null;
  detail: Record<string, unknown>;
}

/** GET /audit: one page, newest first; `next_before` asks for the page after it. */
export interface AuditPage {
  events: AuditEvent[];
  next_before: number | null;
}

export interface AuditQuery {
  actor?: string;
  kind?: string;
  since?: string;
  until?: string;
  limit?: number;
  before?: number;
}

/** An API key as GET /keys lists it (never its secret). */
export interface ApiKey {
  id: string;
  name: string;
  roles: Role[];
  team: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_by: string | null;
}

/** POST /keys. */
export interface NewApiKey {
  name: string;
  roles: Role[];
  team?: string;
  expires_at?: string;
}

/** The 201 to POST /keys: the record plus the plaintext key, shown this once. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface ModelStat {
  id: string;
  class: string;
  provider?: string;
  window: 'open' | 'closed';
  windowDetail: string;
  rpm: number;
  rpmCap: number | null;
  tpm: number;
  tpmCap: number | null;
  usdToday: number;
  usdCap: number | null;
  budgetFrac: number;
  p95ms: number | null;
  ttfbms: number | null;
  coolingDown: boolean;
  healthy: boolean;
}

export interface HelloMessage {
  type: 'hello';
  version: string;
  policy_version: number;
  kill_switch: boolean;
}

export interface ModelStatsMessage {
  type: 'model_stats';
  at: string;
  models: ModelStat[];
}

/** Where a decision was made; `reevaluation` is the server re-deciding a recorded input. */
export type DecisionSource = 'plan' | 'execute' | 'openai' | 'reevaluation';

export interface DecisionMessage {
  type: 'decision';
  at: string;
  source: DecisionSource;
  decision_id: string;
  audit_id: string | null;
  task: string;
  loa: number;
  risk: string | null;
  allow: boolean;
  model: string | null;
  rule: string | null;
  denial: string | null;
  reasons: Reason[];
  /** The bundle revision OPA evaluated (`r3-…`), when the server says. */
  revision?: string;
}

/** Sent after each execution: who served the decision, at what cost. */
export interface ExecutionMessage {
  type: 'execution';
  decision_id: string;
  audit_id: string | null;
  /** The model that served (null when none did: denied, failed, cancelled). */
  model: string | null;
  status: 'ok' | 'denied' | 'failed' | 'cancelled';
  cost_usd: number | null;
  latency_ms: number | null;
}

export interface AlertMessage {
  type: 'alert';
  at: string;
  severity: 'warning' | 'critical';
  name: string;
  model: string | null;
  message: string;
}

export interface KillSwitchMessage extends KillSwitchWire {
  type: 'kill_switch';
}

export type EventMessage =
  | HelloMessage
  | ModelStatsMessage
  | DecisionMessage
  | ExecutionMessage
  | AlertMessage
  | KillSwitchMessage;

// ---- decision records, replay, simulation, shadow ---------------------------------------

/** The counters OPA read for one model when it decided. */
export interface ModelCounters {
  rpm: number;
  tpm: number;
  usd_today: number;
  cooling_down: boolean;
  healthy: boolean;
}

/** The exact OPA input of a recorded decision. */
export interface DecisionInput {
  request: Record<string, unknown>;
  models: Record<string, ModelCounters>;
  now_ns: number;
  kill_switch: boolean;
  client?: { name: string; roles: Role[]; team: string | null };
}

/** GET /decisions/<id>: what was asked, under which revision, and what was decided. */
export interface DecisionRecord {
  decision_id: string;
  at: string;
  source: DecisionSource;
  audit_id: string | null;
  /** The bundle revision, `r3-<hash16>`. */
  revision: string;
  revision_number: number;
  input: DecisionInput;
  decision: Decision;
}

/** One line of GET /decisions. */
export interface DecisionSummary {
  decision_id: string;
  at: string;
  source: DecisionSource;
  audit_id: string | null;
  revision: string;
  revision_number: number;
  allow: boolean;
  model: string | null;
  rule: string | null;
  denial: string | null;
}

export interface DecisionPage {
  decisions: DecisionSummary[];
  next_before: string | null;
}

export interface DecisionQuery {
  model?: string;
  rule?: string;
  denial?: string;
  revision?: string;
  source?: DecisionSource;
  since?: string;
  until?: string;
  limit?: number;
  before?: string;
}

/** POST /decisions/<id>/replay: the recorded input re-evaluated under the recorded revision. */
export interface ReplayResult {
  decision_id?: string;
  /** The revision re-evaluated (the recorded one). */
  revision?: string;
  decision: Decision;
  /** The decision as recorded, for comparison. */
  recorded?: Decision;
  equal: boolean;
  differences: string[];
  explain: Explain;
}

/** GET /runs/<audit_id>: the stored run report (the fields the dashboard reads). */
export interface RunReport {
  audit_id?: string;
  decision_id?: string;
  at?: string;
  status: string;
  /** The model that served; null when none did. */
  model: string | null;
  cost_usd: number | null;
  usage: Usage | null;
  attempts: Attempt[];
}

/** The outcome of one decision as the simulation compares it. */
export interface SimulatedOutcome {
  allow: boolean;
  model: string | null;
  rule: string | null;
  denial: string | null;
}

/** POST /policy/simulate; the default is the last 24 h, up to 10,000 recorded decisions. */
export interface SimulationRequest {
  document?: unknown;
  guards?: Record<string, string>;
  revision?: number;
  since?: string;
  until?: string;
  limit?: number;
}

export interface SimulationResult {
  total: number;
  kept: number;
  changed_model: number;
  became_denied: number;
  became_allowed: number;
  still_denied: number;
  by_rule: Record<string, { total: number; changed_model: number; became_denied: number; became_allowed: number }>;
  by_model: Record<string, { before: number; after: number }>;
  by_reason: Record<string, number>;
  usd_per_day_change: number;
  window: { since: string; until: string };
  examples: { decision_id: string; before: SimulatedOutcome; after: SimulatedOutcome; reasons: Reason[] }[];
  elapsed_s: number;
}

/** GET /policy/shadow: the revision evaluated beside the active one, and how often they disagree. */
export interface ShadowState {
  revision: number | null;
  since: string | null;
  /** Who set it. */
  set_by?: string | null;
  evaluated: number;
  disagreements: number;
  rate: number;
}
