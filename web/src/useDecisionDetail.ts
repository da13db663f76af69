// What the Explain drawer reads about one decision: its record, its run, and a replay on demand.
import { useCallback, useEffect, useRef, useState } from 'react';
import { fetchDecision, fetchRun, replayDecision } from './decisionRecords';
import type { ExplainTarget } from './explain';
import { ApiError } from './http';
import { IDLE, LOADING, failure, type Load } from './load';
import type { DecisionRecord, ReplayResult, RunReport } from './types';

/** Records are written in batches within about a second: a 404 is asked again once after this. */
export const RECORD_RETRY_MS = 1000;

/** A record also may not exist yet: still 404 after the retry. */
export type RecordLoad = Load<DecisionRecord> | { state: 'not_recorded' };

export interface DecisionDetail {
  record: RecordLoad;
  run: Load<RunReport>;
  replay: Load<ReplayResult>;
  /** The run's audit id: the opener's, else the record's. */
  auditId: string | null;
  retryRecord: () => void;
  retryRun: () => void;
  /** POST /decisions/<id>/replay?explain=full for the decision on screen. */
  replayFull: () => void;
}

export interface DecisionDetailOptions {
  /** Whether the key may read records, runs and replays (the operator role); false reads nothing. */
  enabled: boolean;
  retryDelayMs?: number;
}

/** Load the record (and the run) of `target` each time it is opened; replay it when asked. */
export function useDecisionDetail(
  target: ExplainTarget | null,
  { enabled, retryDelayMs = RECORD_RETRY_MS }: DecisionDetailOptions,
): DecisionDetail {
  const [record, setRecord] = useState<RecordLoad>(IDLE);
  const [run, setRun] = useState<Load<RunReport>>(IDLE);
  const [replay, setReplay] = useState<Load<ReplayResult>>(IDLE);
  const [recordRound, setRecordRound] = useState(0);
  const [runRound, setRunRound] = useState(0);
  // The decision a replay in flight belongs to: an answer for another one is dropped.
  const showing = useRef<string | null>(null);

  const decisionId = target?.decisionId ?? null;
  showing.current = decisionId;

  useEffect(() => {
    setReplay(IDLE);
    if (!enabled || decisionId === null) {
      setRecord(IDLE);
      return undefined;
    }
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setRecord(LOADING);
    const load = async (retried: boolean): Promise<void> => {
      try {
        const value = await fetchDecision(decisionId);
        if (current) setRecord({ state: 'loaded', value });
      } catch (exc) {
        if (!current) return;
        if (!(exc instanceof ApiError && exc.status === 404)) setRecord(failure(exc));
        else if (retried) setRecord({ state: 'not_recorded' });
        else timer = setTimeout(() => void load(true), retryDelayMs);
      }
    };
    void load(false);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // A new target object is a new opening: load afresh even for the same id.
  }, [target, decisionId, enabled, retryDelayMs, recordRound]);

  const recorded = record.state === 'loaded' ? record.value.audit_id : null;
  const auditId = target?.auditId ?? recorded;
  const given = target?.run ?? null;

  useEffect(() => {
    if (given) {
      setRun({ state: 'loaded', value: given });
      return undefined;
    }
    if (!enabled || auditId === null) {
      setRun(IDLE);
      return undefined;
    }
    let current = true;
    setRun(LOADING);
    fetchRun(auditId).then(
      (value) => {
        if (current) setRun({ state: 'loaded', value });
      },
      (exc: unknown) => {
        if (current) setRun(failure(exc));
      },
    );
    return () => {
      current = false;
    };
  }, [target, given, auditId, enabled, runRound]);

  const replayFull = useCallback(() => {
    if (!enabled || decisionId === null) return;
    setReplay(LOADING);
    replayDecision(decisionId, 'full').then(
      (value) => {
        if (showing.current === decisionId) setReplay({ state: 'loaded', value });
      },
      (exc: unknown) => {
        if (showing.current === decisionId) setReplay(failure(exc));
      },
    );
  }, [enabled, decisionId]);

  const retryRecord = useCallback(() => setRecordRound((round) => round + 1), []);
  const retryRun = useCallback(() => setRunRound((round) => round + 1), []);

  return { record, run, replay, auditId, retryRecord, retryRun, replayFull };
}
