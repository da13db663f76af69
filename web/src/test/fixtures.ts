import type { ModelStat, PlanResponse } from '../types';

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
