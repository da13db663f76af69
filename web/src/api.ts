// The HTTP calls of routing, policy, controls, sessions, audit and keys, typed against
// docs/api.md (decision records and runs are in decisionRecords.ts).
import { ApiError, call, rememberCsrfToken, rejection, send, transmit } from './http';
import { readKillSwitch } from './killSwitch';
import { readEventStream } from './sse';
import type {
  ApiErrorBody,
  ApiKey,
  Attempt,
  AuditPage,
  AuditQuery,
  CreatedApiKey,
  ExecuteSummary,
  ExplainMode,
  KillSwitchState,
  KillSwitchWire,
  NewApiKey,
  PlanResponse,
  PolicyHistory,
  PolicyResponse,
  PolicyRevisionRef,
  RouteRequest,
  Session,
  ShadowState,
  SimulationRequest,
  SimulationResult,
  ValidationResult,
} from './types';

export { ApiError, onUnauthenticated } from './http';

/** A 412 from PUT /policy: someone saved another revision after the editor loaded its own. */
export class PolicyConflict extends ApiError {
  readonly current: PolicyRevisionRef;

  constructor(body: ApiErrorBody, current: PolicyRevisionRef) {
    super(412, body);
    this.name = 'PolicyConflict';
    this.current = current;
  }
}

/** A 428 from PUT /policy: the request carried no If-Match, so the server refused to guess. */
export class PreconditionRequired extends ApiError {
  constructor(body: ApiErrorBody) {
    super(428, body);
    this.name = 'PreconditionRequired';
  }
}

function isRevisionRef(value: unknown): value is PolicyRevisionRef {
  const ref = value as PolicyRevisionRef | null | undefined;
  return typeof ref === 'object' && ref !== null && typeof ref.version === 'number' && typeof ref.etag === 'string';
}

/** The precondition failures of a policy write as their own types; anything else unchanged. */
function policyWriteError(error: ApiError): ApiError {
  if (error.status === 412 && isRevisionRef(error.body.current)) return new PolicyConflict(error.body, error.body.current);
  if (error.status === 428) return new PreconditionRequired(error.body);
  return error;
}


/** A policy revision with its etag: the body's field, else the ETag header (unreadable behind some proxies). */
async function policyFrom(response: Response): Promise<PolicyResponse> {
  const policy = (await response.json()) as PolicyResponse;
  return { ...policy, etag: policy.etag ?? response.headers.get('ETag') };
}

function explainQuery(explain?: ExplainMode): string {
  return explain ? `?explain=${explain}` : '';
}

/** POST /route/plan: a decision and its explanation, nothing executed. */
export function planRoute(request: RouteRequest, explain?: ExplainMode): Promise<PlanResponse> {
  return call<PlanResponse>('POST', `/route/plan${explainQuery(explain)}`, request);
}

export interface ExecuteHandlers {
  onChunk: (text: string) => void;
}

interface StreamError {
  error: string;
  message?: string;
  attempts?: Attempt[];
}

/**
 * POST /route/execute. With `stream: true` the SSE answer is read as it arrives and every
 * `chunk` goes to `onChunk`; either way the promise resolves with the run's summary.
 */
export async function executeRoute(
  request: RouteRequest,
  handlers: ExecuteHandlers,
  signal?: AbortSignal,
): Promise<ExecuteSummary> {
  const response = await transmit('POST', '/route/execute', {
    headers: {
      'Content-Type': 'application/json',
      Accept: request.stream ? 'text/event-stream, application/json' : 'application/json',
    },
    body: JSON.stringify(request),
    signal,
  });
  if (!response.ok) throw await rejection('/route/execute', response);
  const type = response.headers.get('Content-Type') ?? '';
  if (!type.startsWith('text/event-stream') || !response.body) {
    const summary = (await response.json()) as ExecuteSummary;
    return summary;
  }
  // Filled from inside the event callback (a holder, so the compiler does not narrow to null).
  const outcome: { summary: ExecuteSummary | null; failure: StreamError | null } = {
    summary: null,
    failure: null,
  };
  await readEventStream(
    response.body,
    (event) => {
      const data: unknown = JSON.parse(event.data);
      if (event.event === 'chunk') handlers.onChunk((data as { text: string }).text);
      else if (event.event === 'summary') outcome.summary = data as ExecuteSummary;
      else if (event.event === 'error') outcome.failure = data as StreamError;
    },
    signal,
  );
  if (outcome.failure) {
    const { error, message, attempts } = outcome.failure;
    throw new ApiError(502, { error, message: message ?? 'the stream failed after it started', attempts });
  }
  if (!outcome.summary) {
    throw new ApiError(502, { error: 'stream_incomplete', message: 'the stream ended without a summary' });
  }
  return outcome.summary;
}

/** GET /policy: the active document, its revision and the etag a later save must send back. */
export async function fetchPolicy(): Promise<PolicyResponse> {
  return policyFrom(await send('GET', '/policy'));
}

/** GET /policy/history: every revision, newest first. */
export function fetchPolicyHistory(): Promise<PolicyHistory> {
  return call<PolicyHistory>('GET', '/policy/history');
}

/** POST /policy/validate: every schema error of a candidate document; nothing stored. */
export function validatePolicy(document: unknown): Promise<ValidationResult> {
  return call<ValidationResult>('POST', '/policy/validate', document);
}

/**
 * PUT /policy: store a new revision over the one `etag` names. A 422 (field errors), a
 * PolicyConflict (412, another revision is active) or a PreconditionRequired (428, no etag)
 * leaves the active revision in place.
 */
export async function savePolicy(document: unknown, etag: string | null): Promise<PolicyResponse> {
  const headers: Record<string, string> = {};
  // Without an etag the header is left out rather than invented: the server's 428 says why.
  if (etag !== null) headers['If-Match'] = etag;
  return policyFrom(await send('PUT', '/policy', document, headers, policyWriteError));
}

/**
 * POST /policy/simulate: re-decide recorded decisions under a candidate (a document, guards
 * or a stored revision) and count what would change; nothing is stored. A candidate that does
 * not compile or validate is a 422 `policy_invalid` with every error.
 */
export function simulatePolicy(request: SimulationRequest): Promise<SimulationResult> {
  return call<SimulationResult>('POST', '/policy/simulate', request);
}

/** GET /policy/shadow: the shadow revision (null: none) and how often it disagrees with the active one. */
export function fetchShadow(): Promise<ShadowState> {
  return call<ShadowState>('GET', '/policy/shadow');
}

/** PUT /policy/shadow: evaluate revision `revision` beside the active one from now on. */
export async function setShadow(revision: number): Promise<void> {
  await send('PUT', '/policy/shadow', { revision });
}

/** DELETE /policy/shadow: stop evaluating a shadow revision. */
export async function dropShadow(): Promise<void> {
  await send('DELETE', '/policy/shadow');
}

/**
 * POST /policy/shadow/promote: make the shadow revision the active one, over the active
 * revision `etag` names (a PolicyConflict when another became active since).
 */
export async function promoteShadow(etag: string): Promise<PolicyResponse> {
  return policyFrom(await send('POST', '/policy/shadow/promote', undefined, { 'If-Match': etag }, policyWriteError));
}

/** GET /controls/kill-switch. */
export async function fetchKillSwitch(): Promise<KillSwitchState> {
  return readKillSwitch(await call<KillSwitchWire>('GET', '/controls/kill-switch'));
}

/** PUT /controls/kill-switch with why (required); the answer is the server's new state. */
export async function setKillSwitch(on: boolean, reason: string): Promise<KillSwitchState> {
  return readKillSwitch(await call<KillSwitchWire>('PUT', '/controls/kill-switch', { on, reason }));
}

/** GET /session: who is signed in; an ApiError 401 when nobody is. */
export async function fetchSession(): Promise<Session> {
  const session = await call<Session>('GET', '/session');
  rememberCsrfToken(session.csrf_token);
  return session;
}

/** POST /session: trade an API key for a session cookie (401 wrong key, 429 too many tries). */
export async function signIn(key: string): Promise<Session> {
  const session = await call<Session>('POST', '/session', { key });
  rememberCsrfToken(session.csrf_token);
  return session;
}

/** DELETE /session: end the session; the token is forgotten whatever the answer. */
export async function signOut(): Promise<void> {
  try {
    await send('DELETE', '/session');
  } finally {
    rememberCsrfToken(null);
  }
}

/** GET /audit: one page of the audit trail, newest first; empty filters are left out. */
export function fetchAudit(query: AuditQuery = {}): Promise<AuditPage> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query) as [string, string | number | undefined][]) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const search = params.toString();
  return call<AuditPage>('GET', `/audit${search ? `?${search}` : ''}`);
}

/** GET /keys: every API key, secrets never included. */
export async function fetchKeys(): Promise<ApiKey[]> {
  return (await call<{ keys: ApiKey[] }>('GET', '/keys')).keys;
}

/** POST /keys: a new key; the answer carries its plaintext this one time. */
export function createKey(request: NewApiKey): Promise<CreatedApiKey> {
  return call<CreatedApiKey>('POST', '/keys', request);
}

/** DELETE /keys/<id>: revoke a key; the answer is the revoked record. */
export function revokeKey(id: string): Promise<ApiKey> {
  return call<ApiKey>('DELETE', `/keys/${encodeURIComponent(id)}`);
}
