import type {
  ApiErrorBody,
  ApiKey,
  AuditEvent,
  DecisionRecord,
  ModelStat,
  PlanResponse,
  PolicyResponse,
  ReplayResult,
  Role,
  RunReport,
  Session,
  ShadowState,
  SimulationResult,
} from '../types';

export const plan: PlanResponse = {
  decision: {
    allow: true,
    model: 'local/smollm2',
    rule: 'qa-default',
    denial: null,
    denial_kind: null,
    route: { stream: true, max_cost_usd: 0.5, context_budget_tokens: 8000 },
    candidates: ['hosted/gemini-1.5-pro', 'local/smollm2'],
    eligible: ['local/smollm2'],
    reasons: [
      { model: 'hosted/gemini-1.5-pro', reason: 'budget_exhausted', detail: 'spent $5.00 of $5.00 today' },
      { model: 'local/smollm2', reason: 'chosen', detail: 'first eligible candidate of rule qa-default' },
    ],
    estimated_cost_usd: { 'hosted/gemini-1.5-pro': 0.0028, 'local/smollm2': 0 },
  },
  explain: {
    reasons: [
      { model: 'hosted/gemini-1.5-pro', reason: 'budget_exhausted', detail: 'spent $5.00 of $5.00 today' },
      { model: 'local/smollm2', reason: 'chosen', detail: 'first eligible candidate of rule qa-default' },
    ],
    trace: [
      'query:1  Enter data.symphony.router.decision = _',
      'policy/rego/router.rego:132  | | | | Note "rule qa-default matched"',
      'policy/rego/router.rego:216  | | | Note "model local/smollm2 chosen from eligible [local/smollm2]"',
    ],
  },
  decision_id: '5c0f0c7e-decision',
  policy_version: 3,
};

export function stat(overrides: Partial<ModelStat> & Pick<ModelStat, 'id'>): ModelStat {
  return {
    class: 'hosted',
    provider: 'gemini',
    window: 'open',
    windowDetail: '',
    rpm: 1,
    rpmCap: 30,
    tpm: 900,
    tpmCap: 300000,
    usdToday: 0.5,
    usdCap: 5,
    budgetFrac: 0.1,
    p95ms: 450,
    ttfbms: 120,
    coolingDown: false,
    healthy: true,
    ...overrides,
  };
}

/** GET /policy as the server answers it for one revision; the etag is derived as the server derives it. */
export function policyRevision(
  version: number,
  hash: string,
  overrides: Partial<PolicyResponse> = {},
): PolicyResponse {
  return {
    version,
    hash,
    etag: `"r${version}-${hash.slice(0, 16)}"`,
    updated_by: 'bootstrap',
    updated_at: '2026-11-25T10:00:00Z',
    request_id: `req-${version}`,
    reason: null,
    label: '2026.11.1',
    document: { version: '2026.11.1', timezone: 'Europe/Berlin', models: [{ name: 'local/a', rpm_cap: 10 }], rules: [] },
    guards: {},
    ...overrides,
  };
}

/** The revision the editor loads. */
export const policyV3 = policyRevision(3, 'e49d63b2a8a78f048bafc4b4590029603a5a4165ee8bf98af15d62f24cd83479');

/** The revision someone else saved while the editor still held v3. */
export const policyV4 = policyRevision(4, 'a2ec8adac7fd24b4b7a8edd89d06990579f6123f5724a14b47ee4bddfb2ba572', {
  updated_by: 'alice',
  updated_at: '2026-11-25T11:30:00Z',
  label: '2026.11.2',
  document: { version: '2026.11.2', timezone: 'Europe/Berlin', models: [{ name: 'local/b', rpm_cap: 20 }], rules: [] },
});

/** The 412 body for a PUT whose If-Match (`sent`) no longer names the active revision. */
export function conflictBody(sent: string, active: PolicyResponse): ApiErrorBody {
  return {
    error: 'precondition_failed',
    message: `the policy changed since you loaded it (you sent ${JSON.stringify(sent)}, the active revision is ${JSON.stringify(active.etag)})`,
    current: {
      version: active.version,
      etag: active.etag ?? '',
      updated_by: active.updated_by ?? null,
      updated_at: active.updated_at ?? null,
    },
  };
}

/** A session as GET/POST /session answer it; `roles` are the effective ones, as the server sends them. */
export function session(name: string, roles: Role[], team: string | null = null): Session {
  return { name, roles, team, csrf_token: `csrf-of-${name}`, expires_at: '2026-11-25T18:00:00Z' };
}

/** The effective roles of each role a key can be given. */
export const EFFECTIVE: Record<Role, Role[]> = {
  client: ['client'],
  operator: ['operator'],
  governor: ['governor', 'operator'],
  admin: ['admin', 'governor', 'operator', 'client'],
};

export function auditEvent(id: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id,
    at: `2026-11-25T10:${String(id % 60).padStart(2, '0')}:00Z`,
    actor: 'alice',
    kind: 'policy.revision',
    subject: `policy r${id}`,
    request_id: `req-${id}`,
    before_hash: 'e49d63b2a8a78f048bafc4b4590029603a5a4165ee8bf98af15d62f24cd83479',
    after_hash: 'a2ec8adac7fd24b4b7a8edd89d06990579f6123f5724a14b47ee4bddfb2ba572',
    detail: {},
    ...overrides,
  };
}

export function apiKey(id: string, name: string, roles: Role[], overrides: Partial<ApiKey> = {}): ApiKey {
  return {
    id,
    name,
    roles,
    team: null,
    created_at: '2026-11-20T09:00:00Z',
    last_used_at: null,
    expires_at: null,
    revoked_at: null,
    created_by: 'root',
    ...overrides,
  };
}

/** A recorded execute decision: gemini planned, grok cooling down; the run fell back to SmolLM2. */
export const decisionRecord: DecisionRecord = {
  decision_id: 'dec-7f3a',
  at: '2026-11-25T10:15:02Z',
  source: 'execute',
  audit_id: 'run_01J9',
  revision: 'r3-e49d63b2a8a78f04',
  revision_number: 3,
  input: {
    request: { task: 'qa', loa: 1, risk: 'low', est_tokens: 1200 },
    models: {
      'hosted/gemini-1.5-pro': { rpm: 12, tpm: 48200, usd_today: 1.25, cooling_down: false, healthy: true },
      'hosted/grok-code': { rpm: 0, tpm: 0, usd_today: 0, cooling_down: true, healthy: false },
      'local/smollm2': { rpm: 3, tpm: 900, usd_today: 0, cooling_down: false, healthy: true },
    },
    now_ns: 1764065702000000000,
    kill_switch: false,
    client: { name: 'billing-app', roles: ['client'], team: 'billing' },
  },
  decision: {
    allow: true,
    model: 'hosted/gemini-1.5-pro',
    rule: 'qa-hosted-first',
    denial: null,
    denial_kind: null,
    route: { stream: false, max_cost_usd: 0.5, context_budget_tokens: 8000 },
    candidates: ['hosted/grok-code', 'hosted/gemini-1.5-pro', 'local/smollm2'],
    eligible: ['hosted/gemini-1.5-pro', 'local/smollm2'],
    reasons: [
      { model: 'hosted/grok-code', reason: 'cooling_down', detail: 'cooling down after 3 upstream errors until 10:16:00' },
      { model: 'hosted/gemini-1.5-pro', reason: 'chosen', detail: 'first eligible candidate of rule qa-hosted-first' },
      { model: 'local/smollm2', reason: 'eligible', detail: 'eligible, after hosted/gemini-1.5-pro in the rule' },
    ],
    estimated_cost_usd: { 'hosted/gemini-1.5-pro': 0.0028, 'local/smollm2': 0 },
  },
};

/** GET /runs/run_01J9: gemini failed, SmolLM2 served. */
export const runReport: RunReport = {
  audit_id: 'run_01J9',
  decision_id: 'dec-7f3a',
  at: '2026-11-25T10:15:03Z',
  status: 'ok',
  model: 'local/smollm2',
  cost_usd: 0.000412,
  usage: { prompt_tokens: 310, completion_tokens: 42, total_tokens: 352, estimated: false },
  attempts: [
    { model: 'hosted/gemini-1.5-pro', outcome: 'http_error', status: 503, latency_ms: 812.4, detail: 'upstream unavailable' },
    { model: 'local/smollm2', outcome: 'ok', status: 200, latency_ms: 401.7, detail: '' },
  ],
};

/** POST /decisions/dec-7f3a/replay?explain=full, equal to the record. */
export const replayEqual: ReplayResult = {
  decision_id: 'dec-7f3a',
  revision: 'r3-e49d63b2a8a78f04',
  decision: decisionRecord.decision,
  equal: true,
  differences: [],
  explain: {
    reasons: decisionRecord.decision.reasons,
    trace: [
      'query:1  Enter data.symphony.router.decision = _',
      'policy/rego/router.rego:132  | | | | Note "rule qa-hosted-first matched"',
      'policy/rego/gates.rego:41  | | | Fail cooling_down("hosted/grok-code")',
      'policy/rego/router.rego:216  | | | Note "model hosted/gemini-1.5-pro chosen"',
    ],
  },
};

/** POST /policy/simulate for an edited document: 312 of 2,140 rerouted over the last 24 h. */
export const simulation: SimulationResult = {
  total: 2140,
  kept: 1810,
  changed_model: 312,
  became_denied: 18,
  became_allowed: 0,
  still_denied: 41,
  by_rule: { 'qa-default': { total: 1500, changed_model: 300, became_denied: 18, became_allowed: 0 } },
  by_model: {
    'hosted/gemini-1.5-pro': { before: 400, after: 712 },
    'local/smollm2': { before: 1699, after: 1369 },
    'hosted/grok-code': { before: 0, after: 0 },
  },
  by_reason: { budget_exhausted: 18, chosen: 2081, cooling_down: 7 },
  usd_per_day_change: 4.1,
  window: { since: '2026-11-24T10:00:00Z', until: '2026-11-25T10:00:00Z' },
  examples: Array.from({ length: 6 }, (_, n) => ({
    decision_id: `dec-sim-${n}`,
    before: { allow: true, model: 'local/smollm2', rule: 'qa-default', denial: null },
    after:
      n === 0
        ? { allow: false, model: null, rule: 'qa-default', denial: 'budget_exhausted' }
        : { allow: true, model: 'hosted/gemini-1.5-pro', rule: 'qa-default', denial: null },
    reasons: [{ model: 'hosted/gemini-1.5-pro', reason: n === 0 ? 'budget_exhausted' : 'chosen', detail: `example ${n} detail` }],
  })),
  elapsed_s: 1.42,
};

/** GET /policy/shadow with revision 5 in shadow. */
export const shadowOn: ShadowState = {
  revision: 5,
  since: '2026-11-25T08:00:00Z',
  evaluated: 1204,
  disagreements: 37,
  rate: 37 / 1204,
};

export const shadowOff: ShadowState = { revision: null, since: null, evaluated: 0, disagreements: 0, rate: 0 };
