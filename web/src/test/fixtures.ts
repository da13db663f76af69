import type { ApiErrorBody, ApiKey, AuditEvent, ModelStat, PlanResponse, PolicyResponse, Role, Session } from '../types';

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
