// One shape for "why did this request go there", from a plan answer, a denial or a live event.
import type { ApiErrorBody, Decision, DecisionMessage, ExplainMode, PlanResponse, Reason } from './types';

export interface ExplainView {
  decisionId: string | null;
  source: 'plan' | 'execute' | 'openai';
  allow: boolean;
  model: string | null;
  rule: string | null;
  denial: string | null;
  reasons: Reason[];
  /** OPA trace lines; null when the source carries none (live events are redacted). */
  trace: string[] | null;
  /** Whether `trace` is OPA's full trace (`?explain=full`) rather than its notes. */
  fullTrace: boolean;
  candidates: string[];
  eligible: string[];
  estimatedCost: Record<string, number>;
  policyVersion: number | null;
}

function fromDecision(decision: Decision, source: ExplainView['source']): ExplainView {
  return {
    decisionId: null,
    source,
    allow: decision.allow,
    model: decision.model,
    rule: decision.rule,
    denial: decision.denial,
    reasons: decision.reasons,
    trace: null,
    fullTrace: false,
    candidates: decision.candidates ?? [],
    eligible: decision.eligible ?? [],
    estimatedCost: decision.estimated_cost_usd ?? {},
    policyVersion: null,
  };
}

/** The view of a /route/plan answer (asked with `?explain=<mode>`): decision, reasons, trace. */
export function fromPlan(plan: PlanResponse, mode?: ExplainMode): ExplainView {
  return {
    ...fromDecision(plan.decision, 'plan'),
    decisionId: plan.decision_id,
    reasons: plan.explain?.reasons ?? plan.decision.reasons,
    trace: plan.explain?.trace ?? [],
    fullTrace: mode === 'full',
    policyVersion: plan.policy_version,
  };
}

/** The view of a denied execute (429/403 carry the decision). */
export function fromDenial(body: ApiErrorBody): ExplainView | null {
  return body.decision ? fromDecision(body.decision, 'execute') : null;
}

/** The view of a `decision` websocket message (no trace: events are redacted). */
export function fromDecisionMessage(message: DecisionMessage): ExplainView {
  return {
    decisionId: message.decision_id,
    source: message.source,
    allow: message.allow,
    model: message.model,
    rule: message.rule,
    denial: message.denial,
    reasons: message.reasons,
    trace: null,
    fullTrace: false,
    candidates: [],
    eligible: [],
    estimatedCost: {},
    policyVersion: null,
  };
}

export interface TraceLine {
  /** `policy/rego/router.rego:42`, when the line starts with one. */
  location: string | null;
  text: string;
}

const LOCATION = /^(\S+\.rego:\d+)\s*(.*)$/;

/** Split an OPA trace line into its Rego file:row and the rest. */
export function parseTraceLine(line: string): TraceLine {
  const match = LOCATION.exec(line);
  return match ? { location: match[1] ?? null, text: match[2] ?? '' } : { location: null, text: line };
}
