// A stand-in for the proxy's HTTP side: routes by method and path, records every call.
import { vi } from 'vitest';

export function json(status: number, body?: unknown, headers: Record<string, string> = {}): Response {
  if (status === 204) return new Response(null, { status });
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export interface Call {
  method: string;
  /** The path with its query string, as the dashboard asked. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  credentials: RequestCredentials | undefined;
}

/** `"GET /session"` → the answer; a function sees the call. Unknown routes answer 404. */
export type Routes = Record<string, Response | ((call: Call) => Response)>;

/** Install a fetch that answers from `routes`; the returned list fills as calls arrive. */
export function serve(routes: Routes): { calls: Call[]; fetch: ReturnType<typeof vi.fn> } {
  const calls: Call[] = [];
  const fetchMock = vi.fn((url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    const parsed = new URL(url, 'http://localhost');
    const call: Call = {
      method,
      url,
      path: parsed.pathname,
      query: parsed.searchParams,
      headers: { ...(init.headers as Record<string, string> | undefined) },
      body: typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
      credentials: init.credentials,
    };
    calls.push(call);
    const route = routes[`${method} ${call.path}`];
    if (route === undefined) return Promise.resolve(json(404, { error: 'not_found', message: `${method} ${call.path}` }));
    // A Response body reads once: clone the shared ones.
    return Promise.resolve(typeof route === 'function' ? route(call) : route.clone());
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetch: fetchMock };
}

/** Calls that change state (each must carry the CSRF token). */
export function stateChanging(calls: Call[]): Call[] {
  return calls.filter((call) => call.method !== 'GET');
}
