// The state of one read from the server, as components show it.
import { ApiError } from './http';
import type { ApiErrorBody } from './types';

export type Load<T> =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'loaded'; value: T }
  | { state: 'failed'; status: number; body: ApiErrorBody };

export const IDLE = { state: 'idle' } as const;
export const LOADING = { state: 'loading' } as const;

/** A failed read: the server's error body, or a client-side one for anything else thrown. */
export function failure(exc: unknown): { state: 'failed'; status: number; body: ApiErrorBody } {
  if (exc instanceof ApiError) return { state: 'failed', status: exc.status, body: exc.body };
  return { state: 'failed', status: 0, body: { error: 'client_error', message: String(exc) } };
}
