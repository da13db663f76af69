// A WebSocket the test drives: every instance is kept, opened and closed by hand.
export class FakeSocket {
  static instances: FakeSocket[] = [];

  readonly url: string;
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;

  constructor(url: string) {
    this.url = url;
    FakeSocket.instances.push(this);
  }

  close(): void {
    this.closed = true;
  }

  /** The server accepts the upgrade. */
  open(): void {
    this.onopen?.();
  }

  /** The server sends one message. */
  receive(message: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(message) }));
  }

  /** The server (or the network) drops the socket. */
  drop(): void {
    this.closed = true;
    this.onclose?.();
  }

  /** The sockets not closed by the dashboard or the server. */
  static live(): FakeSocket[] {
    return FakeSocket.instances.filter((socket) => !socket.closed);
  }
}
