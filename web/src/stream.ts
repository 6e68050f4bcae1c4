import type { ChangeMessage } from '../../src/core/target.js';

export interface StreamHandlers {
  /** A connection opened: a fresh snapshot follows. */
  open(): void;
  message(msg: ChangeMessage): void;
  /** The connection dropped; a reconnect is scheduled in `retryInMs`. */
  lost(retryInMs: number): void;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;

/** The `/ws` URL beside the page, so a proxy's path prefix is kept. */
export function streamUrl(): string {
  const u = new URL('ws', location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.href;
}

/**
 * The WebSocket stream, reconnected with jittered exponential backoff (250 ms → 10 s) so a
 * restarted server is not hit by every dashboard at the same instant.
 */
export class Stream {
  private attempts = 0;
  private socket: WebSocket | null = null;

  constructor(private readonly url: string, private readonly handlers: StreamHandlers) {}

  connect(): void {
    const ws = new WebSocket(this.url);
    this.socket = ws;
    ws.onopen = () => {
      this.attempts = 0; // a server that accepts is up: the next drop retries fast again
      this.handlers.open();
    };
    ws.onmessage = (event) => {
      const msg = parse(event.data);
      if (msg) this.handlers.message(msg);
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
      this.handlers.lost(delay);
      setTimeout(() => this.connect(), delay);
    };
  }
}

function parse(data: unknown): ChangeMessage | null {
  if (typeof data !== 'string') return null;
  try {
    const msg = JSON.parse(data) as ChangeMessage;
    return typeof msg?.url === 'string' && typeof msg.status === 'string' ? msg : null;
  } catch {
    return null;
  }
}
