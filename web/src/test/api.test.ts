// @vitest-environment node
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, executeRoute, savePolicy } from '../api';

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

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
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

describe('savePolicy', () => {
  it('reports a 422 with its field errors', async () => {
    const errors = [{ field: '$.models[0].rpm_cap', message: '0 is less than the minimum of 1' }];
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(json(422, { error: 'policy_invalid', message: '1 error(s) in the policy', errors })));
    const failure = (await savePolicy({}).catch((e: unknown) => e)) as ApiError;
    expect(failure.status).toBe(422);
    expect(failure.body.errors).toEqual(errors);
  });

  it('reports a non-JSON error page by its status', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' })));
    const failure = (await savePolicy({}).catch((e: unknown) => e)) as ApiError;
    expect(failure.body).toEqual({ error: 'http_502', message: '502 Bad Gateway' });
  });
});
