import { describe, expect, it } from 'vitest';
import { FEED_LIMIT, initialLiveState, liveReducer } from '../liveState';
import { backoffDelay, eventsUrl, parseEventMessage } from '../useEventSocket';
import type { DecisionMessage, ExecutionMessage } from '../types';
import { stat } from './fixtures';

function decision(n: number): DecisionMessage {
  return {
    type: 'decision',
    at: `2026-11-25T10:00:${String(n % 60).padStart(2, '0')}Z`,
    source: 'plan',
    decision_id: `d${n}`,
    audit_id: null,
    task: 'qa',
    loa: 1,
    risk: 'low',
    allow: true,
    model: 'local/smollm2',
    rule: 'qa-default',
    denial: null,
    reasons: [],
  };
}

describe('liveReducer', () => {
  it('keeps the newest decisions and alerts first, at most FEED_LIMIT', () => {
    let state = initialLiveState;
    for (let n = 0; n < FEED_LIMIT + 5; n += 1) state = liveReducer(state, decision(n));
    state = liveReducer(state, { type: 'alert', at: 'now', severity: 'critical', name: 'BudgetExhaustion', model: 'm', message: 'spent' });
    expect(state.feed).toHaveLength(FEED_LIMIT);
    expect(state.feed[0]?.kind).toBe('alert');
    expect(state.feed[1]?.kind === 'decision' && state.feed[1].message.decision_id).toBe(`d${FEED_LIMIT + 4}`);
    expect(new Set(state.feed.map((item) => item.key)).size).toBe(FEED_LIMIT);
  });

  it('replaces the rows on model_stats and follows the kill switch', () => {
    let state = liveReducer(initialLiveState, { type: 'model_stats', at: 't1', models: [stat({ id: 'a' })] });
    state = liveReducer(state, { type: 'hello', version: '0.1.0', policy_version: 4, kill_switch: false });
    state = liveReducer(state, { type: 'kill_switch', kill_switch: true, updated_by: 'ops', updated_at: 't2', reason: 'incident 42' });
    expect(state.models.map((m) => m.id)).toEqual(['a']);
    expect(state.policyVersion).toBe(4);
    expect(state.killSwitch).toEqual({ kill_switch: true, updated_by: 'ops', updated_at: 't2', reason: 'incident 42' });
  });

  it('reads the kill switch under either name of the flag', () => {
    const state = liveReducer(initialLiveState, { type: 'kill_switch', on: true, updated_by: 'ops', updated_at: 't' });
    expect(state.killSwitch).toEqual({ kill_switch: true, updated_by: 'ops', updated_at: 't', reason: null });
  });

  it('keeps who set the kill switch across a reconnect only while it has not moved', () => {
    const set = liveReducer(initialLiveState, { type: 'kill_switch', kill_switch: true, updated_by: 'ops', updated_at: 't', reason: 'drill' });
    const same = liveReducer(set, { type: 'hello', version: '0.1.0', policy_version: 4, kill_switch: true });
    expect(same.killSwitch).toEqual(set.killSwitch);
    const moved = liveReducer(set, { type: 'hello', version: '0.1.0', policy_version: 4, kill_switch: false });
    expect(moved.killSwitch).toEqual({ kill_switch: false, updated_by: null, updated_at: null, reason: null });
  });
});

function execution(overrides: Partial<ExecutionMessage> & Pick<ExecutionMessage, 'decision_id'>): ExecutionMessage {
  return {
    type: 'execution',
    audit_id: null,
    model: 'local/smollm2',
    status: 'ok',
    cost_usd: 0.000412,
    latency_ms: 401.7,
    ...overrides,
  };
}

function servedBy(state: ReturnType<typeof liveReducer>, decisionId: string): ExecutionMessage | null | undefined {
  const item = state.feed.find((line) => line.kind === 'decision' && line.message.decision_id === decisionId);
  return item?.kind === 'decision' ? item.execution : undefined;
}

describe('liveReducer with executions', () => {
  it('attaches an execution to its decision line by decision id, leaving the others alone', () => {
    let state = liveReducer(initialLiveState, decision(1));
    state = liveReducer(state, decision(2));
    const ran = execution({ decision_id: 'd1', audit_id: 'run_1' });
    state = liveReducer(state, ran);
    expect(servedBy(state, 'd1')).toBe(ran);
    expect(servedBy(state, 'd2')).toBeNull();
    expect(state.feed).toHaveLength(2);
  });

  it('matches by audit id when the decision ids differ', () => {
    let state = liveReducer(initialLiveState, { ...decision(3), source: 'execute', audit_id: 'run_3' });
    state = liveReducer(state, execution({ decision_id: 'other', audit_id: 'run_3', model: 'hosted/x' }));
    expect(servedBy(state, 'd3')?.model).toBe('hosted/x');
  });

  it('keeps an execution that came first and attaches it when its decision line arrives', () => {
    let state = liveReducer(initialLiveState, execution({ decision_id: 'd4' }));
    expect(state.orphanExecutions).toHaveLength(1);
    state = liveReducer(state, decision(4));
    expect(servedBy(state, 'd4')?.model).toBe('local/smollm2');
    expect(state.orphanExecutions).toHaveLength(0);
  });
});

describe('event socket helpers', () => {
  it('accepts only known typed JSON messages', () => {
    expect(parseEventMessage('{"type": "hello", "version": "1", "policy_version": 1, "kill_switch": false}')?.type).toBe('hello');
    expect(parseEventMessage('{"type": "execution", "decision_id": "d", "audit_id": null, "model": null, "status": "failed", "cost_usd": 0, "latency_ms": 1}')?.type).toBe('execution');
    expect(parseEventMessage('{"type": "nope"}')).toBeNull();
    expect(parseEventMessage('not json')).toBeNull();
    expect(parseEventMessage(new ArrayBuffer(2))).toBeNull();
  });

  it('backs off exponentially up to ten seconds', () => {
    const middle = () => 0.5;
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, middle))).toEqual([500, 1000, 2000, 4000, 10000]);
    expect(backoffDelay(0, () => 0)).toBe(400);
    expect(backoffDelay(0, () => 1)).toBe(600);
  });

  it('connects to /events on the page host, wss under https', () => {
    expect(eventsUrl({ protocol: 'http:', host: '127.0.0.1:9000' } as Location)).toBe('ws://127.0.0.1:9000/events');
    expect(eventsUrl({ protocol: 'https:', host: 'ops.example' } as Location)).toBe('wss://ops.example/events');
  });
});
