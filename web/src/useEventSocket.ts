// The one websocket to /events: parse messages, reconnect with backoff when it drops.
import { useEffect, useRef, useState } from 'react';
import type { EventMessage } from './types';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting';

export interface Connection {
  state: ConnectionState;
  /** Failed attempts since the last open socket. */
  attempt: number;
  /** Delay before the next try, while reconnecting. */
  retryInMs: number | null;
}

const KNOWN_TYPES = new Set(['hello', 'model_stats', 'decision', 'execution', 'alert', 'kill_switch']);
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** The /events URL on the page's own host (the CSP allows only that). */
export function eventsUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/events`;
}

/** Exponential backoff capped at 10 s, with jitter so many dashboards do not retry in step. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A typed message, or null for anything that is not one we know (ignored, never fatal). */
export function parseEventMessage(raw: unknown): EventMessage | null {
  if (typeof raw !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const type = (parsed as { type?: unknown }).type;
  return typeof type === 'string' && KNOWN_TYPES.has(type) ? (parsed as EventMessage) : null;
}

export interface EventSocketOptions {
  /** Connect only while this holds (signed in with the operator role); false closes the socket. */
  enabled: boolean;
  /**
   * Asked after every close, before the next try: false stops reconnecting (the session is
   * gone, or has lost the role). The browser hides why an upgrade was refused, so a 401 or 403
   * looks like any other drop; the session endpoint tells them apart. A rejection (the server
   * is unreachable) means try again.
   */
  verify?: () => Promise<boolean>;
  url?: string;
}

const IDLE: Connection = { state: 'connecting', attempt: 0, retryInMs: null };

/** Keep a websocket open to `url` while `enabled`, handing every known message to `onMessage`. */
export function useEventSocket(
  onMessage: (message: EventMessage) => void,
  { enabled, verify, url = eventsUrl() }: EventSocketOptions,
): Connection {
  const [connection, setConnection] = useState<Connection>(IDLE);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const verifier = useRef(verify);
  verifier.current = verify;

  useEffect(() => {
    if (!enabled) return undefined;
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let disposed = false;
    setConnection(IDLE);

    const connect = (): void => {
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempt = 0;
        setConnection({ state: 'open', attempt: 0, retryInMs: null });
      };
      socket.onmessage = (event: MessageEvent) => {
        const message = parseEventMessage(event.data);
        if (message) handler.current(message);
      };
      socket.onclose = () => {
        if (disposed) return;
        const delay = backoffDelay(attempt);
        attempt += 1;
        setConnection({ state: 'reconnecting', attempt, retryInMs: delay });
        const retry = (): void => {
          if (!disposed) timer = setTimeout(connect, delay);
        };
        const check = verifier.current;
        if (!check) {
          retry();
          return;
        }
        check().then((allowed) => {
          if (allowed) retry();
        }, retry);
      };
    };

    connect();
    return () => {
      disposed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [url, enabled]);

  return connection;
}
