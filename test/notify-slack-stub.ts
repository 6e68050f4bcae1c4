import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: { text?: string; events?: Array<Record<string, unknown>> };
}

/** How the stub answers the n-th request (0-based); default 200 "ok". */
export type Responder = (n: number, req: Received, res: ServerResponse) => void;

export interface SlackStub {
  url: string;
  received: Received[];
  /** Requests answered 2xx. */
  delivered: () => Received[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** A local HTTP server standing in for Slack (or any webhook receiver). */
export async function startSlackStub(port = 0): Promise<SlackStub> {
  const received: Received[] = [];
  const ok = new Set<Received>();
  let responder: Responder = (_n, _req, res) => res.end('ok');
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = { at: Date.now(), headers: req.headers, body, json: JSON.parse(body) as Received['json'] };
      received.push(r);
      res.on('finish', () => { if (res.statusCode >= 200 && res.statusCode < 300) ok.add(r); });
      responder(received.length - 1, r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`,
    received,
    delivered: () => received.filter((r) => ok.has(r)),
    respond: (r) => { responder = r; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The event lines of a Slack text: without the mention and the notes in parentheses. */
export function eventLines(text: string | undefined): string[] {
  return (text ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('<!') && !l.startsWith('('));
}
