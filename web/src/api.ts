// Every HTTP call the dashboard makes, typed against docs/api.md.
import { readEventStream } from './sse';
import type {
  ApiErrorBody,
  Attempt,
  ExecuteSummary,
  ExplainMode,
  KillSwitchState,
  PlanResponse,
  PolicyHistory,
  PolicyResponse,
  PolicyRevisionRef,
  RouteRequest,
  ValidationResult,
} from './types';

/** The actor recorded for changes made from the dashboard. */
export const DASHBOARD_ACTOR = 'dashboard';

/** A non-2xx answer (or a broken one), with the server's error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message ?? body.error);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as ApiErrorBody).error === 'string';
}

async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const parsed: unknown = JSON.parse(text);
    if (isErrorBody(parsed)) return new ApiError(response.status, parsed);
  } catch {
    // Not JSON (a proxy's HTML page, say): report the status line below.
  }
  return new ApiError(response.status, {
    error: `http_${response.status}`,
    message: `${response.status} ${response.statusText}`.trim(),
  });
}

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

async function send(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
  refine: (error: ApiError) => ApiError = (error) => error,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, { error: 'network_error', message: `${method} ${path} failed: ${String(exc)}` });
  }
  if (!response.ok) throw refine(await errorFrom(response));
  return response;
}

async function call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const response = await send(method, path, body, headers);
  return (await response.json()) as T;
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
  let response: Response;
  try {
    response = await fetch('/route/execute', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: request.stream ? 'text/event-stream, application/json' : 'application/json',
      },
      body: JSON.stringify(request),
      signal,
    });
  } catch (exc) {
    throw new ApiError(0, { error: 'network_error', message: `POST /route/execute failed: ${String(exc)}` });
  }
  if (!response.ok) throw await errorFrom(response);
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
  const headers: Record<string, string> = { 'X-Symphony-Actor': DASHBOARD_ACTOR };
  // Without an etag the header is left out rather than invented: the server's 428 says why.
  if (etag !== null) headers['If-Match'] = etag;
  return policyFrom(await send('PUT', '/policy', document, headers, policyWriteError));
}

/** GET /controls/kill-switch. */
export function fetchKillSwitch(): Promise<KillSwitchState> {
  return call<KillSwitchState>('GET', '/controls/kill-switch');
}

/** PUT /controls/kill-switch: the answer is the server's new state. */
export function setKillSwitch(on: boolean): Promise<KillSwitchState> {
  return call<KillSwitchState>('PUT', '/controls/kill-switch', { on }, { 'X-Symphony-Actor': DASHBOARD_ACTOR });
}
