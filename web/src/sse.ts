// Server-sent events read from a fetch body: EventSource cannot POST, /route/execute needs to.

export interface SseEvent {
  event: string;
  data: string;
}

/** Incremental text/event-stream parser: feed it text as it arrives, get whole events back. */
export class SseParser {
  private buffer = '';
  private eventName = '';
  private dataLines: string[] = [];

  /** Parse `text` appended to what came before; return the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.lineEnd();
      if (end === null) break;
      const line = this.buffer.slice(0, end.at);
      this.buffer = this.buffer.slice(end.at + end.length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** Flush at end of stream: a last event without its blank line still counts. */
  finish(): SseEvent[] {
    const events = this.buffer ? this.push('\n') : [];
    const last = this.dispatch();
    return last ? [...events, last] : events;
  }

  private lineEnd(): { at: number; length: number } | null {
    const cr = this.buffer.indexOf('\r');
    const lf = this.buffer.indexOf('\n');
    if (cr === -1 && lf === -1) return null;
    if (cr === -1 || (lf !== -1 && lf < cr)) return { at: lf, length: 1 };
    // A CR at the very end may be the first half of CRLF split across two reads.
    if (cr === this.buffer.length - 1) return null;
    return { at: cr, length: this.buffer[cr + 1] === '\n' ? 2 : 1 };
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventName = value;
    else if (field === 'data') this.dataLines.push(value);
    return null;
  }

  private dispatch(): SseEvent | null {
    const hasData = this.dataLines.length > 0;
    const event = { event: this.eventName || 'message', data: this.dataLines.join('\n') };
    this.eventName = '';
    this.dataLines = [];
    return hasData ? event : null;
  }
}

/** Read a whole event stream, calling `onEvent` for each event as soon as it is complete. */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  // stream: true keeps a multi-byte character split across two reads intact.
  const decoder = new TextDecoder('utf-8');
  const parser = new SseParser();
  const abort = (): void => {
    void reader.cancel();
  };
  signal?.addEventListener('abort', abort);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true })).forEach(onEvent);
    }
    parser.push(decoder.decode()).forEach(onEvent);
    parser.finish().forEach(onEvent);
  } finally {
    signal?.removeEventListener('abort', abort);
    reader.releaseLock();
  }
}
