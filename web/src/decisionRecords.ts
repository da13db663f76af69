// Decision records (what OPA was asked and answered), their replay, and run reports: operator calls.
import { call } from './http';
import type { DecisionPage, DecisionQuery, DecisionRecord, ExplainMode, ReplayResult, RunReport } from './types';

function segment(value: string): string {
  return encodeURIComponent(value);
}

/** GET /decisions/<id>: the recorded input, revision and decision; an ApiError 404 until it is recorded. */
export function fetchDecision(decisionId: string): Promise<DecisionRecord> {
  return call<DecisionRecord>('GET', `/decisions/${segment(decisionId)}`);
}

/** GET /decisions: one page of recorded decisions, newest first; empty filters are left out. */
export function fetchDecisions(query: DecisionQuery = {}): Promise<DecisionPage> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query) as [string, string | number | undefined][]) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return call<DecisionPage>('GET', `/decisions${search ? `?${search}` : ''}`);
}

/** POST /decisions/<id>/replay: re-evaluate the recorded input under the recorded revision. */
export function replayDecision(decisionId: string, explain: Exclude<ExplainMode, 'off'> = 'full'): Promise<ReplayResult> {
  return call<ReplayResult>('POST', `/decisions/${segment(decisionId)}/replay?explain=${explain}`);
}

/** GET /runs/<audit_id>: the stored run report (attempts, serving model, usage, cost). */
export function fetchRun(auditId: string): Promise<RunReport> {
  return call<RunReport>('GET', `/runs/${segment(auditId)}`);
}
