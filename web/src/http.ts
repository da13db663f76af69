// The dashboard's one way to the proxy: fetch with the session's cookie and CSRF token, and
// every non-2xx answer as an ApiError carrying the server's error body.
import type { ApiErrorBody } from './types';

function describe(body: ApiErrorBody): string {
  const sentence = body.message ?? body.error;
  const role = body.required_role;
  return role && !sentence.includes(role) ? `${sentence} (needs the ${role} role)` : sentence;
}

/** A non-2xx answer (or a broken one), with the server's error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;

  constructor(status: number, body: ApiErrorBody) {
    super(describe(body));
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

// ---- session plumbing -------------------------------------------------------------------

/** Methods that change state: the server refuses them (403 csrf_failed) without the token. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// The signed-in session's CSRF token. Module state, like the cookie it pairs with: one
// session per page, and every call needs it.
let csrfToken: string | null = null;

/** Keep the token of a session just signed in or looked up (null: forget it). */
export function rememberCsrfToken(token: string | null): void {
  csrfToken = token;
}

type UnauthenticatedListener = (error: ApiError) => void;
const unauthenticatedListeners = new Set<UnauthenticatedListener>();

/** Be told when any call answers 401 (the session expired or its key was revoked); returns the unsubscribe. */
export function onUnauthenticated(listener: UnauthenticatedListener): () => void {
  unauthenticatedListeners.add(listener);
  return () => {
    unauthenticatedListeners.delete(listener);
  };
}

/** The error for a non-2xx answer; a 401 voids the token and, outside /session, ends the session. */
export async function rejection(path: string, response: Response): Promise<ApiError> {
  const error = await errorFrom(response);
  if (response.status !== 401) return error;
  csrfToken = null;
  // /session answers its own 401s (a wrong key, nobody signed in yet) to the caller that asked.
  if (!path.startsWith('/session')) for (const listener of [...unauthenticatedListeners]) listener(error);
  return error;
}

interface Outgoing {
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** fetch with the session: its cookie (same origin) and, on a state-changing call, its CSRF token. */
export async function transmit(method: string, path: string, outgoing: Outgoing): Promise<Response> {
  const headers = { ...outgoing.headers };
  if (STATE_CHANGING.has(method) && csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  try {
    return await fetch(path, {
      method,
      headers,
      body: outgoing.body,
      signal: outgoing.signal,
      credentials: 'same-origin',
    });
  } catch (exc) {
    if (exc instanceof DOMException && exc.name === 'AbortError') throw exc;
    throw new ApiError(0, { error: 'network_error', message: `${method} ${path} failed: ${String(exc)}` });
  }
}

/** A JSON request; a non-2xx answer throws its ApiError (after `refine`, which may specialise it). */
export async function send(
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
  refine: (error: ApiError) => ApiError = (error) => error,
): Promise<Response> {
  const response = await transmit(method, path, {
    headers: {
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw refine(await rejection(path, response));
  return response;
}

/** A JSON request whose answer body is returned. */
export async function call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  const response = await send(method, path, body, headers);
  return (await response.json()) as T;
}
