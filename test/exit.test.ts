/**
 * Stopping: SIGTERM ends the process within 2 s whatever the targets, the notification
 * destination and the dashboards do.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { FAST_ENV, type Spo2, api, q, refusedUrl, startSpo2, waitFor } from './helpers.ts';
import { startSlackStub, type SlackStub } from './notify-slack-stub.ts';
import { stalledWebSocket } from './stalled-ws.ts';

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}


describe('stopping', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('SIGTERM exits within 2 s while probes hang, Slack never answers and a dashboard never reads', async () => {
    const silent = await silentServer();
    cleanup.push(() => silent.server.close());
    const slack: SlackStub = await startSlackStub();
    cleanup.push(() => slack.close());
    slack.respond(() => {}); // never answers: a message stays in flight
    const spo2: Spo2 = await startSpo2({
      env: { ...FAST_ENV, SPO2_TIMEOUT: '60s', SLACK_HOOK_URL: slack.url, SPO2_NOTIFY_WINDOW: '0ms' },
    });
    cleanup.push(() => spo2.kill9());

    for (let i = 0; i < 20; i++) await api(spo2.httpUrl, 'PUT', q(`http://127.0.0.1:${silent.port}/hang/${i}`));
    await api(spo2.httpUrl, 'PUT', q(await refusedUrl('/down')));
    const dashboard = await stalledWebSocket(spo2.httpUrl);
    cleanup.push(() => dashboard.destroy());
    await waitFor(() => slack.received.length > 0, 10_000, 'a Slack message in flight');

    const t0 = performance.now();
    const code = await spo2.stop();
    const tookMs = performance.now() - t0;
    assert.ok(!spo2.logs.some((l) => l.msg.startsWith('stop is taking too long')), 'stopped cleanly, not by the deadline');
    assert.ok(tookMs < 2000, `SIGTERM took ${Math.round(tookMs)} ms`);
    assert.notEqual(code, null, 'exited, not killed');
  });
});
