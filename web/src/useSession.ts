// Who is signed in: checked on load, gained with an API key, lost on sign-out or any 401.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, fetchSession, onUnauthenticated, signIn, signOut } from './api';
import type { Session } from './types';

export type SessionState =
  | { status: 'checking' }
  /** `notice`: why the dashboard is back at the login screen, when it did not go there by choice. */
  | { status: 'signed-out'; notice: string | null }
  | { status: 'signed-in'; session: Session };

export interface SessionControls {
  state: SessionState;
  /** Trade a key for a session; rejects with the server's ApiError (401, 429) for the login form. */
  signIn: (key: string) => Promise<void>;
  signOut: () => Promise<void>;
  /** Ask the server again who is signed in; resolves null when nobody is any more. */
  refresh: () => Promise<Session | null>;
}

const ENDED = 'Your session has ended (it expired, or its key was revoked). Sign in again.';

function sameSession(a: Session, b: Session): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The session the dashboard runs under, and the ways in and out of it. */
export function useSession(): SessionControls {
  const [state, setState] = useState<SessionState>({ status: 'checking' });

  const adopt = useCallback((session: Session) => {
    // A refresh that learns nothing new keeps the old object, so nothing re-renders for it.
    setState((previous) =>
      previous.status === 'signed-in' && sameSession(previous.session, session)
        ? previous
        : { status: 'signed-in', session },
    );
  }, []);

  const refresh = useCallback(async (): Promise<Session | null> => {
    try {
      const session = await fetchSession();
      adopt(session);
      return session;
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 401) {
        setState((previous) => ({ status: 'signed-out', notice: previous.status === 'signed-in' ? ENDED : null }));
        return null;
      }
      throw exc;
    }
  }, [adopt]);

  useEffect(() => {
    refresh().catch((exc: unknown) => {
      // The server could not say (down, or a proxy's error page): the login form is the way forward.
      setState({ status: 'signed-out', notice: `Could not check the session: ${exc instanceof Error ? exc.message : String(exc)}` });
    });
  }, [refresh]);

  useEffect(
    () =>
      onUnauthenticated(() =>
        // Only a live session ends here: a late answer to a call made before signing out changes nothing.
        setState((previous) => (previous.status === 'signed-in' ? { status: 'signed-out', notice: ENDED } : previous)),
      ),
    [],
  );

  const enter = useCallback(async (key: string): Promise<void> => adopt(await signIn(key)), [adopt]);

  const leave = useCallback(async (): Promise<void> => {
    let notice: string | null = null;
    try {
      await signOut();
    } catch (exc) {
      // Back to the login screen regardless; but say the server may still hold the session.
      if (!(exc instanceof ApiError && exc.status === 401)) {
        notice = `Signed out here, but the server did not confirm it: ${exc instanceof Error ? exc.message : String(exc)}`;
      }
    }
    setState({ status: 'signed-out', notice });
  }, []);

  return { state, signIn: enter, signOut: leave, refresh };
}
