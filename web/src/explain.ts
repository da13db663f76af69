// One shape for "why did this request go there", from a plan answer, a denial, a live event or
// a decision record; and what the Explain drawer is asked to open.
import type {
  ApiErrorBody,
  Decision,
  DecisionMessage,
  DecisionRecord,
  DecisionSource,
  ExecuteSummary,
  ExecutionMessage,
  ExplainMode,
  ModelCounters,
  PlanResponse,
  Reason,
  RunReport,
} from './types';

export interface ExplainView {
  decisionId: string | null;
  auditId: string | null;
  source: DecisionSource;
  allow: boolean;
  /** The planned model (the one that served may differ: see the run). */
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
  /** The bundle revision evaluated (`r3-…`), known from a decision record. */
  revision: string | null;
  revisionNumber: number | null;
  /** The counters OPA read, per model; known only from a decision record. */
  counters: Record<string, ModelCounters> | null;
}

function fromDecision(decision: Decision, source: DecisionSource): ExplainView {
  return {
    decisionId: null,
    auditId: null,
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
    revision: null,
    revisionNumber: null,
    counters: null,
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
    revisionNumber: plan.policy_version,
  };
}

/** The view of a denied execute (429/403 carry the decision). */
export function fromDenial(body: ApiErrorBody): ExplainView | null {
  if (!body.decision) return null;
  return { ...fromDecision(body.decision, 'execute'), decisionId: body.decision_id ?? null, auditId: body.audit_id ?? null };
}

/** The view of a `decision` websocket message (no trace: events are redacted). */
export function fromDecisionMessage(message: DecisionMessage): ExplainView {
  return {
    ...fromDecision({ ...message, denial_kind: null }, message.source),
    decisionId: message.decision_id,
    auditId: message.audit_id,
    revision: message.revision ?? null,
  };
}

/**
 * The view of a decision record. It is the decision itself, so it wins over whatever the
 * opener knew; only a plan's trace (which records do not keep) is carried over.
 */
export function fromRecord(record: DecisionRecord, preview: ExplainView | null): ExplainView {
  return {
    ...fromDecision(record.decision, record.source),
    decisionId: record.decision_id,
    auditId: record.audit_id,
    revision: record.revision,
    revisionNumber: record.revision_number,
    counters: record.input.models,
    trace: preview?.trace ?? null,
    fullTrace: preview?.fullTrace ?? false,
  };
}

/** What the Explain drawer is asked to open: a decision, and what its opener already knows. */
export interface ExplainTarget {
  decisionId: string | null;
  auditId: string | null;
  /** Shown at once, before (or instead of) the decision record. */
  preview: ExplainView | null;
  /** The run, when the opener has it already (the run output's summary). */
  run: RunReport | null;
}

/** Open a view (a plan, a denial) as the drawer's target. */
export function targetOfView(view: ExplainView): ExplainTarget {
  return { decisionId: view.decisionId, auditId: view.auditId, preview: view, run: null };
}

/** Open a live-feed line; its execution event, when one came, names the run. */
export function targetOfMessage(message: DecisionMessage, execution: ExecutionMessage | null): ExplainTarget {
  return {
    decisionId: message.decision_id,
    auditId: message.audit_id ?? execution?.audit_id ?? null,
    preview: fromDecisionMessage(message),
    run: null,
  };
}

/** Open a decision by its id alone (typed in). */
export function targetOfId(decisionId: string): ExplainTarget {
  return { decisionId, auditId: null, preview: null, run: null };
}

/** Open the run the run output shows: its summary is the run report. */
export function targetOfRun(summary: ExecuteSummary): ExplainTarget {
  const preview: ExplainView = {
    ...fromDecision(
      { allow: true, model: summary.model, rule: summary.rule, denial: null, denial_kind: null, reasons: summary.explain?.reasons ?? [] },
      'execute',
    ),
    decisionId: summary.decision_id,
    auditId: summary.audit_id,
    trace: summary.explain?.trace ?? null,
  };
  const run: RunReport = {
    audit_id: summary.audit_id,
    decision_id: summary.decision_id,
    status: 'ok',
    model: summary.model,
    cost_usd: summary.cost_usd,
    usage: summary.usage,
    attempts: summary.attempts,
  };
  return { decisionId: summary.decision_id, auditId: summary.audit_id, preview, run };
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
