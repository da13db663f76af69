// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { readEventStream, SseParser, type SseEvent } from '../sse';

function streamOf(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(part);
      controller.close();
    },
  });
}

function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(bytes.slice(at, at + size));
  return parts;
}

const WIRE =
  'event: chunk\ndata: {"text": "Hel"}\n\n' +
  'event: chunk\r\ndata: {"text": "lo — wörld ✓"}\r\n\r\n' +
  ': a comment\n' +
  'event: summary\ndata: {"audit_id": "run_1",\ndata:  "model": "local/smollm2"}\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'chunk', data: '{"text": "Hel"}' },
  { event: 'chunk', data: '{"text": "lo — wörld ✓"}' },
  { event: 'summary', data: '{"audit_id": "run_1",\n "model": "local/smollm2"}' },
];

describe('SseParser', () => {
  it('parses whole events, CRLF and LF alike, joining multi-line data', () => {
    expect(new SseParser().push(WIRE)).toEqual(EXPECTED);
  });

  it('gives the same events however the text is split', () => {
    for (let size = 1; size <= WIRE.length; size += 1) {
      const parser = new SseParser();
      const events: SseEvent[] = [];
      for (let at = 0; at < WIRE.length; at += size) events.push(...parser.push(WIRE.slice(at, at + size)));
      events.push(...parser.finish());
      expect(events, `split every ${size} characters`).toEqual(EXPECTED);
    }
  });

  it('holds a line until its end arrives, and flushes a last event without a blank line', () => {
    const parser = new SseParser();
    expect(parser.push('event: chunk\ndata: {"te')).toEqual([]);
    expect(parser.push('xt": "x"}\n')).toEqual([]);
    expect(parser.finish()).toEqual([{ event: 'chunk', data: '{"text": "x"}' }]);
  });

  it('ignores events without data', () => {
    expect(new SseParser().push('event: ping\n\n')).toEqual([]);
  });
});

describe('readEventStream', () => {
  it('handles chunks split across reads, even inside a multi-byte character', async () => {
    const bytes = new TextEncoder().encode(WIRE);
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const events: SseEvent[] = [];
      await readEventStream(streamOf(splitEvery(bytes, size)), (event) => events.push(event));
      expect(events, `reads of ${size} bytes`).toEqual(EXPECTED);
    }
  });

  it('delivers each event as soon as its read completes it', async () => {
    const encoder = new TextEncoder();
    const seen: string[] = [];
    let pull = 0;
    const parts = ['event: chunk\ndata: {"text": "a"}\n', '\nevent: chunk\ndata: {"text": "b"}\n\n'];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        seen.push(`read ${pull}`);
        const part = parts[pull];
        pull += 1;
        if (part === undefined) controller.close();
        else controller.enqueue(encoder.encode(part));
      },
    });
    await readEventStream(stream, (event) => seen.push(event.data));
    expect(seen.indexOf('{"text": "a"}')).toBeLessThan(seen.indexOf('{"text": "b"}'));
    expect(seen.indexOf('{"text": "a"}')).toBeGreaterThan(seen.indexOf('read 1'));
    expect(seen.indexOf('{"text": "a"}')).toBeLessThan(seen.indexOf('read 2'));
  });
});
