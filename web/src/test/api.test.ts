// @vitest-environment node
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  PolicyConflict,
  PreconditionRequired,
  createKey,
  executeRoute,
  fetchAudit,
  fetchKillSwitch,
  fetchPolicy,
  fetchSession,
  onUnauthenticated,
  planRoute,
  revokeKey,
  savePolicy,
  setKillSwitch,
  dropShadow,
  promoteShadow,
  setShadow,
  signIn,
  signOut,
  simulatePolicy,
} from '../api';
import { fetchDecision, fetchDecisions, fetchRun, replayDecision } from '../decisionRecords';
import { EFFECTIVE, conflictBody, policyV3, policyV4, session } from './fixtures';

const summary = {
  audit_id: 'run_01',
  decision_id: 'd1',
  latency_ms: 12.5,
  model: 'local/smollm2',
  rule: 'qa-default',
  output: { text: 'Hello!' },
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, estimated: false },
  cost_usd: 0,
  attempts: [{ model: 'local/smollm2', outcome: 'ok', status: 200, latency_ms: 10, detail: '' }],
};

function sse(parts: string[]): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream; charset=utf-8' } });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('executeRoute', () => {
  it('streams chunks as they arrive and resolves with the summary', async () => {
    const wire = `event: chunk\ndata: {"text": "Hel"}\n\nevent: chunk\ndata: {"text": "lo!"}\n\nevent: summary\ndata: ${JSON.stringify(summary)}\n\n`;
    const fetchMock = vi.fn().mockResolvedValue(sse([wire.slice(0, 17), wire.slice(17, 50), wire.slice(50)]));
    vi.stubGlobal('fetch', fetchMock);
    const chunks: string[] = [];
    const result = await executeRoute({ task: 'qa', loa: 1, stream: true, input: 'hi' }, { onChunk: (t) => chunks.push(t) });
    expect(chunks).toEqual(['Hel', 'lo!']);
    expect(result.audit_id).toBe('run_01');
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/route/execute');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ task: 'qa', loa: 1, stream: true, input: 'hi' });
  });

  it('turns an error event after the stream started into an ApiError with the attempts', async () => {
    const attempts = [{ model: 'hosted/x', outcome: 'http_error', status: 500, latency_ms: 3, detail: 'boom' }];
    vi.stubGlobal(
      'fetch',
      vi.fn().mockResolvedValue(
        sse([`event: chunk\ndata: {"text": "par"}\n\nevent: error\ndata: ${JSON.stringify({ error: 'all_attempts_failed', attempts })}\n\n`]),
      ),
    );
    const chunks: string[] = [];
    const failure = await executeRoute({ task: 'qa', loa: 1, stream: true }, { onChunk: (t) => chunks.push(t) }).catch(
      (exc: unknown) => exc,
    );
    expect(chunks).toEqual(['par']);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).body.error).toBe('all_attempts_failed');
    expect((failure as ApiError).body.attempts).toEqual(attempts);
  });

  it('reads a non-streamed JSON answer as the summary', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, summary)));
    const result = await executeRoute({ task: 'qa', loa: 1, stream: false }, { onChunk: () => undefined });
    expect(result.output.text).toBe('Hello!');
  });

  it('keeps a denial decision from a 429', async () => {
    const decision = { allow: false, model: null, rule: null, denial: 'rate_limited', denial_kind: 'capacity', reasons: [] };
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(429, { error: 'rate_limited', decision })));
    const failure = (await executeRoute({ task: 'qa', loa: 1 }, { onChunk: () => undefined }).catch((e: unknown) => e)) as ApiError;
    expect(failure.status).toBe(429);
    expect(failure.body.decision).toEqual(decision);
  });
});

describe('fetchPolicy', () => {
  it("returns the body's etag, not the header's, when both are there", async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, policyV3, { ETag: '"r3-from-header"' })));
    const policy = await fetchPolicy();
    expect(policy.etag).toBe('"r3-e49d63b2a8a78f04"');
    expect(policy.version).toBe(3);
  });

  it('falls back to the ETag header when the body has no etag', async () => {
    const withoutEtag = { ...policyV3, etag: undefined };
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, withoutEtag, { ETag: policyV3.etag ?? '' })));
    expect((await fetchPolicy()).etag).toBe(policyV3.etag);
  });

  it('has a null etag when neither the body nor a readable header carries one', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, { ...policyV3, etag: undefined })));
    expect((await fetchPolicy()).etag).toBeNull();
  });
});

describe('savePolicy', () => {
  it('sends the etag it was given as If-Match and returns the new revision', async () => {
    const fetchMock = vi.fn().mockResolvedValue(json(200, policyV4));
    vi.stubGlobal('fetch', fetchMock);
    const saved = await savePolicy(policyV4.document, policyV3.etag);
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/policy');
    expect(init.method).toBe('PUT');
    expect(init.headers).toMatchObject({ 'If-Match': '"r3-e49d63b2a8a78f04"' });
    expect(init.headers).not.toHaveProperty('X-Symphony-Actor');
    expect(saved.etag).toBe(policyV4.etag);
  });

  it('sends no If-Match rather than an invented one when it has no etag', async () => {
    const fetchMock = vi.fn().mockResolvedValue(json(200, policyV4));
    vi.stubGlobal('fetch', fetchMock);
    await savePolicy({}, null);
    const [, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect(init.headers).not.toHaveProperty('If-Match');
  });

  it('reports a 412 as a PolicyConflict carrying the active revision', async () => {
    const body = conflictBody(policyV3.etag ?? '', policyV4);
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(412, body)));
    const failure = await savePolicy({}, policyV3.etag).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PolicyConflict);
    expect(failure).toBeInstanceOf(ApiError);
    const conflict = failure as PolicyConflict;
    expect(conflict.status).toBe(412);
    expect(conflict.current).toEqual({
      version: 4,
      etag: policyV4.etag,
      updated_by: 'alice',
      updated_at: '2026-11-25T11:30:00Z',
    });
    expect(conflict.message).toContain('the policy changed since you loaded it');
  });

  it('leaves a 412 without a usable current revision a plain ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(412, { error: 'precondition_failed', message: 'stale' })));
    const failure = await savePolicy({}, policyV3.etag).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).not.toBeInstanceOf(PolicyConflict);
    expect((failure as ApiError).status).toBe(412);
  });

  it('reports a 428 as PreconditionRequired', async () => {
    const body = { error: 'precondition_required', message: 'send If-Match with the ETag from GET /policy' };
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(428, body)));
    const failure = await savePolicy({}, null).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PreconditionRequired);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).body).toEqual(body);
  });

  it('reports a 422 with its field errors', async () => {
    const errors = [{ field: '$.models[0].rpm_cap', message: '0 is less than the minimum of 1' }];
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(422, { error: 'policy_invalid', message: '1 error(s) in the policy', errors })));
    const failure = (await savePolicy({}, policyV3.etag).catch((e: unknown) => e)) as ApiError;
    expect(failure.status).toBe(422);
    expect(failure.body.errors).toEqual(errors);
  });

  it('reports a non-JSON error page by its status', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })));
    const failure = (await savePolicy({}, policyV3.etag).catch((e: unknown) => e)) as ApiError;
    expect(failure.body).toEqual({ error: 'http_502', message: '502 Bad Gateway' });
  });
});

describe('the session on every call', () => {
  const signedIn = session('ops-bot', EFFECTIVE.admin);

  /** Sign in through a stubbed POST /session, then answer every later call with `answer`. */
  async function withSession(answer: () => Response): Promise<ReturnType<typeof vi.fn>> {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, signedIn)));
    await signIn('sk-secret');
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(answer()));
    vi.stubGlobal('fetch', fetchMock);
    return fetchMock;
  }

  function sent(fetchMock: ReturnType<typeof vi.fn>): { url: string; init: RequestInit; headers: Record<string, string> }[] {
    return (fetchMock.mock.calls as [string, RequestInit][]).map(([url, init]) => ({
      url,
      init,
      headers: init.headers as Record<string, string>,
    }));
  }

  afterEach(async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(null, { status: 204 })));
    await signOut();
  });

  it('sends the CSRF token on every state-changing call, never X-Symphony-Actor, and the cookie always', async () => {
    const fetchMock = await withSession(() => json(200, { ...policyV4, kill_switch: true, keys: [], events: [], next_before: null }));
    await savePolicy({}, policyV3.etag);
    await setKillSwitch(true, 'incident 42');
    await planRoute({ task: 'qa', loa: 1 });
    await createKey({ name: 'ci', roles: ['client'] });
    await revokeKey('k 1');
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(200, summary)));
    await executeRoute({ task: 'qa', loa: 1, stream: false }, { onChunk: () => undefined });
    const execute = sent(vi.mocked(fetch))[0];

    const changes = [...sent(fetchMock), ...(execute ? [execute] : [])];
    expect(changes.map((call) => `${call.init.method} ${call.url}`)).toEqual([
      'PUT /policy',
      'PUT /controls/kill-switch',
      'POST /route/plan',
      'POST /keys',
      'DELETE /keys/k%201',
      'POST /route/execute',
    ]);
    for (const call of changes) {
      expect(call.headers['X-CSRF-Token']).toBe('csrf-of-ops-bot');
      expect(call.headers).not.toHaveProperty('X-Symphony-Actor');
      expect(call.init.credentials).toBe('same-origin');
    }
  });

  it('sends the CSRF token on replay, simulation and every shadow change; promote names the active revision', async () => {
    const fetchMock = await withSession(() => json(200, { ...policyV4, decision_id: 'd' }));
    await replayDecision('dec/7', 'full');
    await simulatePolicy({ document: { rules: [] } });
    await setShadow(5);
    await dropShadow();
    const promoted = await promoteShadow(policyV3.etag ?? '');
    expect(promoted.version).toBe(4);
    const calls = sent(fetchMock);
    expect(calls.map((call) => `${call.init.method} ${call.url}`)).toEqual([
      'POST /decisions/dec%2F7/replay?explain=full',
      'POST /policy/simulate',
      'PUT /policy/shadow',
      'DELETE /policy/shadow',
      'POST /policy/shadow/promote',
    ]);
    for (const call of calls) expect(call.headers['X-CSRF-Token']).toBe('csrf-of-ops-bot');
    expect(JSON.parse(calls[1]?.init.body as string)).toEqual({ document: { rules: [] } });
    expect(JSON.parse(calls[2]?.init.body as string)).toEqual({ revision: 5 });
    expect(calls[4]?.headers['If-Match']).toBe(policyV3.etag);
  });

  it('reports a 412 to promote as a PolicyConflict carrying the active revision', async () => {
    await withSession(() => json(412, conflictBody(policyV3.etag ?? '', policyV4)));
    const failure = await promoteShadow(policyV3.etag ?? '').catch((exc: unknown) => exc);
    expect(failure).toBeInstanceOf(PolicyConflict);
    expect((failure as PolicyConflict).current.version).toBe(4);
  });

  it('reads decisions and runs without a CSRF token, leaving empty filters out', async () => {
    const fetchMock = await withSession(() => json(200, { decisions: [], next_before: null }));
    await fetchDecision('dec 1');
    await fetchDecisions({ model: 'local/smollm2', rule: '', source: 'execute', limit: 50, before: 'dec-9' });
    await fetchDecisions();
    await fetchRun('run_01J9');
    const calls = sent(fetchMock);
    expect(calls.map((call) => call.url)).toEqual([
      '/decisions/dec%201',
      '/decisions?model=local%2Fsmollm2&source=execute&limit=50&before=dec-9',
      '/decisions',
      '/runs/run_01J9',
    ]);
    for (const call of calls) {
      expect(call.init.method).toBe('GET');
      expect(call.headers).not.toHaveProperty('X-CSRF-Token');
    }
  });

  it('sends no CSRF token on reads', async () => {
    const fetchMock = await withSession(() => json(200, { kill_switch: false, events: [], next_before: null }));
    await fetchKillSwitch();
    await fetchAudit({ actor: 'alice' });
    for (const call of sent(fetchMock)) {
      expect(call.headers).not.toHaveProperty('X-CSRF-Token');
      expect(call.init.credentials).toBe('same-origin');
    }
  });

  it('sends the kill switch reason and reads the state under either name of the flag', async () => {
    const fetchMock = await withSession(() => json(200, { on: true, updated_by: 'ops-bot', updated_at: 't', reason: 'drill' }));
    const state = await setKillSwitch(true, 'drill');
    expect(JSON.parse(sent(fetchMock)[0]?.init.body as string)).toEqual({ on: true, reason: 'drill' });
    expect(state).toEqual({ kill_switch: true, updated_by: 'ops-bot', updated_at: 't', reason: 'drill' });
  });

  it('leaves empty audit filters out of the query', async () => {
    const fetchMock = await withSession(() => json(200, { events: [], next_before: null }));
    await fetchAudit({ actor: '', kind: 'kill_switch', before: 41 });
    await fetchAudit();
    expect(sent(fetchMock).map((call) => call.url)).toEqual(['/audit?kind=kill_switch&before=41', '/audit']);
  });

  it('forgets the token once signed out', async () => {
    await withSession(() => json(200, {}));
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(null, { status: 204 })));
    await signOut();
    const fetchMock = vi.fn().mockResolvedValue(json(200, { on: false }));
    vi.stubGlobal('fetch', fetchMock);
    await setKillSwitch(false, 'done');
    expect(sent(fetchMock)[0]?.headers).not.toHaveProperty('X-CSRF-Token');
  });

  it('tells the listeners about a 401 anywhere but /session', async () => {
    const heard: string[] = [];
    const stop = onUnauthenticated((error) => heard.push(error.body.error));
    await withSession(() => json(401, { error: 'unauthenticated', message: 'session expired' }));
    const failure = await fetchKillSwitch().catch((exc: unknown) => exc);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(401);
    expect(heard).toEqual(['unauthenticated']);

    await fetchSession().catch(() => undefined);
    await signIn('sk-wrong').catch(() => undefined);
    expect(heard).toEqual(['unauthenticated']);
    stop();
  });

  it('names the missing role of a 403 in its message', async () => {
    await withSession(() => json(403, { error: 'forbidden', message: 'not allowed', required_role: 'governor' }));
    const failure = (await savePolicy({}, policyV3.etag).catch((exc: unknown) => exc)) as ApiError;
    expect(failure.status).toBe(403);
    expect(failure.message).toBe('not allowed (needs the governor role)');
  });
});
