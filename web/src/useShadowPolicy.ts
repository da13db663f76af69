// The shadow policy: a stored revision evaluated beside the active one, set, dropped or promoted.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, PolicyConflict, dropShadow, fetchPolicy, fetchShadow, promoteShadow, setShadow } from './api';
import { LOADING, failure, type Load } from './load';
import type { ApiErrorBody, PolicyRevisionRef, ShadowState } from './types';

/** How often the disagreement counts are asked again while the panel is shown. */
export const SHADOW_POLL_MS = 15_000;

export type ShadowAction = 'set' | 'drop' | 'promote';

export type ShadowNotice =
  | { kind: 'done'; message: string }
  | { kind: 'failed'; action: ShadowAction; status: number; body: ApiErrorBody }
  | { kind: 'conflict'; current: PolicyRevisionRef; loaded: number | null };

/** The active revision a promotion replaces (its etag goes in If-Match). */
export interface ActiveRevision {
  version: number;
  etag: string | null;
}

export interface ShadowControls {
  shadow: Load<ShadowState>;
  active: ActiveRevision | null;
  pending: ShadowAction | null;
  notice: ShadowNotice | null;
  refresh: () => Promise<void>;
  /** Each change resolves true when the server made it (the notice says either way). */
  set: (revision: number) => Promise<boolean>;
  drop: () => Promise<boolean>;
  promote: () => Promise<boolean>;
}

function refused(action: ShadowAction, exc: unknown): ShadowNotice {
  const { status, body } = failure(exc);
  return { kind: 'failed', action, status, body };
}

/** Load the shadow state (and the active revision), poll the counts, and change it on request. */
export function useShadowPolicy(announcedVersion: number | null, pollMs: number = SHADOW_POLL_MS): ShadowControls {
  const [shadow, setShadowState] = useState<Load<ShadowState>>(LOADING);
  const [active, setActive] = useState<ActiveRevision | null>(null);
  const [pending, setPending] = useState<ShadowAction | null>(null);
  const [notice, setNotice] = useState<ShadowNotice | null>(null);

  const loadShadow = useCallback(async (): Promise<void> => {
    try {
      setShadowState({ state: 'loaded', value: await fetchShadow() });
    } catch (exc) {
      setShadowState(failure(exc));
    }
  }, []);

  const loadActive = useCallback(async (): Promise<void> => {
    try {
      const policy = await fetchPolicy();
      setActive({ version: policy.version, etag: policy.etag });
    } catch {
      // Promote says so when it has no revision to name; the shadow state still shows.
      setActive(null);
    }
  }, []);

  const refresh = useCallback(async (): Promise<void> => {
    await Promise.all([loadShadow(), loadActive()]);
  }, [loadShadow, loadActive]);

  useEffect(() => {
    void refresh();
  }, [refresh, announcedVersion]);

  useEffect(() => {
    const timer = setInterval(() => void loadShadow(), pollMs);
    return () => clearInterval(timer);
  }, [loadShadow, pollMs]);

  const act = useCallback(
    async (action: ShadowAction, change: () => Promise<string>): Promise<boolean> => {
      setPending(action);
      setNotice(null);
      try {
        setNotice({ kind: 'done', message: await change() });
        return true;
      } catch (exc) {
        if (exc instanceof PolicyConflict) setNotice({ kind: 'conflict', current: exc.current, loaded: active?.version ?? null });
        else setNotice(refused(action, exc));
        return false;
      } finally {
        setPending(null);
        await refresh();
      }
    },
    [active, refresh],
  );

  const set = useCallback(
    (revision: number) =>
      act('set', async () => {
        await setShadow(revision);
        return `Revision ${revision} is now evaluated in shadow.`;
      }),
    [act],
  );

  const drop = useCallback(
    () =>
      act('drop', async () => {
        await dropShadow();
        return 'The shadow revision was dropped.';
      }),
    [act],
  );

  const promote = useCallback(
    () =>
      act('promote', async () => {
        const shadowed = shadow.state === 'loaded' ? shadow.value.revision : null;
        // If-Match names the active revision as this panel saw it; a later one is a 412.
        const replaced = active?.etag ? active : await fetchPolicy();
        if (!replaced.etag) {
          throw new ApiError(0, { error: 'etag_missing', message: 'the active revision came without an ETag; reload and try again' });
        }
        const promoted = await promoteShadow(replaced.etag);
        return shadowed !== null && shadowed !== promoted.version
          ? `Shadow revision ${shadowed} was promoted as revision ${promoted.version}, replacing v${replaced.version}.`
          : `Revision ${promoted.version} is now active, replacing v${replaced.version}.`;
      }),
    [act, active, shadow],
  );

  return { shadow, active, pending, notice, refresh, set, drop, promote };
}
