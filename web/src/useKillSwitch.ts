import { useCallback, useEffect, useState, type Dispatch } from 'react';
import { ApiError, fetchKillSwitch, setKillSwitch } from './api';
import type { LiveAction } from './liveState';

export interface KillSwitchControls {
  pending: boolean;
  error: string | null;
  toggle: () => Promise<void>;
}

/** Load the kill switch, and flip it through the server (whose answer is the new state). */
export function useKillSwitch(dispatch: Dispatch<LiveAction>, on: boolean | null): KillSwitchControls {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetchKillSwitch()
      .then((state) => dispatch({ type: 'kill_switch_learned', state }))
      .catch((exc: unknown) => setError(exc instanceof ApiError ? exc.message : String(exc)));
  }, [dispatch]);

  const toggle = useCallback(async (): Promise<void> => {
    if (on === null) return;
    setPending(true);
    setError(null);
    try {
      // The switch shows what the server answers, never what we asked for.
      dispatch({ type: 'kill_switch_learned', state: await setKillSwitch(!on) });
    } catch (exc) {
      setError(exc instanceof ApiError ? `not changed: ${exc.message}` : String(exc));
    } finally {
      setPending(false);
    }
  }, [dispatch, on]);

  return { pending, error, toggle };
}
