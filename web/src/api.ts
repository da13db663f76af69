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

async function call<T>(method: string, path: string, body?: unknown, headers?: HeadersInit): Promise<T> {
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
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as T;
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

/** GET /policy: the active document and its revision. */
export function fetchPolicy(): Promise<PolicyResponse> {
  return call<PolicyResponse>('GET', '/policy');
}

/** GET /policy/history: every revision, newest first. */
export function fetchPolicyHistory(): Promise<PolicyHistory> {
  return call<PolicyHistory>('GET', '/policy/history');
}

/** POST /policy/validate: every schema error of a candidate document; nothing stored. */
export function validatePolicy(document: unknown): Promise<ValidationResult> {
  return call<ValidationResult>('POST', '/policy/validate', document);
}

/** PUT /policy: store a new revision; 422 with field errors leaves the active one in place. */
export function savePolicy(document: unknown): Promise<PolicyResponse> {
  return call<PolicyResponse>('PUT', '/policy', document, { 'X-Symphony-Actor': DASHBOARD_ACTOR });
}

/** GET /controls/kill-switch. */
export function fetchKillSwitch(): Promise<KillSwitchState> {
  return call<KillSwitchState>('GET', '/controls/kill-switch');
}

/** PUT /controls/kill-switch: the answer is the server's new state. */
export function setKillSwitch(on: boolean): Promise<KillSwitchState> {
  return call<KillSwitchState>('PUT', '/controls/kill-switch', { on }, { 'X-Symphony-Actor': DASHBOARD_ACTOR });
}
