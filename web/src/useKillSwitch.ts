import { useCallback, useEffect, useState, type Dispatch } from 'react';
import { ApiError, fetchKillSwitch, setKillSwitch } from './api';
import type { LiveAction } from './liveState';
import type { ApiErrorBody } from './types';

export interface KillSwitchFailure {
  status: number;
  body: ApiErrorBody;
}

export interface KillSwitchControls {
  pending: boolean;
  /** Why the state could not be read. */
  error: string | null;
  /** The state the confirmation dialog proposes; null while no dialog is open. */
  asking: boolean | null;
  /** Why the last confirmed change was refused (shown in the dialog, which stays open). */
  failure: KillSwitchFailure | null;
  /** Open the confirmation for flipping the switch from where the server last said it is. */
  ask: () => void;
  /** Send the proposed state with the operator's reason. */
  confirm: (reason: string) => Promise<void>;
  dismiss: () => void;
}

function failureOf(exc: unknown): KillSwitchFailure {
  if (exc instanceof ApiError) return { status: exc.status, body: exc.body };
  return { status: 0, body: { error: 'client_error', message: String(exc) } };
}

/** Load the kill switch (when `enabled`), and change it through the server after a confirmation with a reason. */
export function useKillSwitch(dispatch: Dispatch<LiveAction>, on: boolean | null, enabled: boolean): KillSwitchControls {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [asking, setAsking] = useState<boolean | null>(null);
  const [failure, setFailure] = useState<KillSwitchFailure | null>(null);

  useEffect(() => {
    if (!enabled) return;
    fetchKillSwitch()
      .then((state) => dispatch({ type: 'kill_switch_learned', state }))
      .catch((exc: unknown) => setError(exc instanceof ApiError ? exc.message : String(exc)));
  }, [dispatch, enabled]);

  const ask = useCallback((): void => {
    if (on === null) return;
    setFailure(null);
    setAsking(!on);
  }, [on]);

  const dismiss = useCallback((): void => {
    setAsking(null);
    setFailure(null);
  }, []);

  const confirm = useCallback(
    async (reason: string): Promise<void> => {
      if (asking === null) return;
      setPending(true);
      setFailure(null);
      try {
        // The switch shows what the server answers, never what we asked for.
        dispatch({ type: 'kill_switch_learned', state: await setKillSwitch(asking, reason.trim()) });
        setError(null);
        setAsking(null);
      } catch (exc) {
        setFailure(failureOf(exc));
      } finally {
        setPending(false);
      }
    },
    [asking, dispatch],
  );

  return { pending, error, asking, failure, ask, confirm, dismiss };
}
