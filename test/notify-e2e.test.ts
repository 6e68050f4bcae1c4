/**
 * Notifications end to end: the real `spo2 serve` process, real targets, and a local
 * HTTP server standing in for Slack.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FAST_ENV, type Spo2, api, backends, q, startSpo2, startTargetServer, waitFor } from './helpers.ts';
import { eventLines, startSlackStub, type Received, type SlackStub } from './notify-slack-stub.ts';

const engines = backends();
after(() => Promise.all(engines.map((b) => b.stop())));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** URLs named by the event lines of these messages, repeats kept. */
function urlsIn(messages: Received[]): string[] {
  return messages.flatMap((m) => eventLines(m.json.text).map((l) => l.split(' ')[0]!));
}

for (const backend of engines) describe(`Slack notifications end to end (${backend.name})`, { skip: backend.skip }, () => {
  const running: Spo2[] = [];
  const stubs: SlackStub[] = [];
  after(async () => {
    for (const s of running) await s.kill9();
    for (const s of stubs) await s.close();
  });

  async function slackStub(): Promise<SlackStub> {
    const s = await startSlackStub();
    stubs.push(s);
    return s;
  }

  it('100 targets failing at once make messages of at most 40 events that cover all 100; only the first mentions', async () => {
    const slack = await slackStub();
    const targets = await startTargetServer();
    const spo2 = await startSpo2({ backend, env: { ...FAST_ENV, SLACK_HOOK_URL: slack.url, SPO2_NOTIFY_WINDOW: '2s' } });
    running.push(spo2);
    const urls = Array.from({ length: 100 }, (_, i) => targets.url(`/svc/${i}`));
    await Promise.all(urls.map((u) => api(spo2.httpUrl, 'PUT', q(u))));
    await waitFor(() => urls.every((_, i) => targets.hits(`/svc/${i}`) > 0), 5000, 'every target probed');
    for (let i = 0; i < 100; i++) targets.set(`/svc/${i}`, { status: 503 });

    await waitFor(() => new Set(urlsIn(slack.delivered())).size === 100, 15_000, 'all 100 reported');
    const messages = slack.delivered();
    assert.ok(messages.length <= 3, `${messages.length} messages for 100 events (at most ⌈100/40⌉ = 3)`);
    // One incident: the first message pages the channel, the rest of the wave does not.
    assert.deepEqual(messages.map((m) => m.json.text!.split('\n')[0] === '<!channel>'), messages.map((_, i) => i === 0));
    assert.equal(messages.filter((m) => m.json.text!.includes('<!channel>')).length, 1);
    for (const m of messages) {
      assert.ok(eventLines(m.json.text).length <= 40);
      for (const line of eventLines(m.json.text)) assert.match(line, /^http:\/\/127\.0\.0\.1:\d+\/svc\/\d+ reported Unhealthy \(503 Service Unavailable\)$/);
    }
    assert.equal(urlsIn(messages).length, 100, 'each target reported once');
    const gaps = messages.slice(1).map((m, i) => m.at - messages[i]!.at);
    assert.ok(gaps.every((g) => g >= 900), `about one message a second at most: gaps ${gaps.join(', ')} ms`);
    await spo2.stop();
    await targets.close();
  });

  it('a Slack outage followed by kill -9 and a restart still delivers every event, once, with no re-alert', async () => {
    const slack = await slackStub();
    slack.respond((_n, _req, res) => res.writeHead(503).end('outage'));
    const targets = await startTargetServer();
    const first = await startSpo2({ backend, env: { ...FAST_ENV, SLACK_HOOK_URL: slack.url } });
    running.push(first);
    const urls = Array.from({ length: 20 }, (_, i) => targets.url(`/pod/${i}`));
    for (let i = 0; i < 20; i++) targets.set(`/pod/${i}`, { status: 500 });
    await Promise.all(urls.map((u) => api(first.httpUrl, 'PUT', q(u))));
    // Every event has been tried at least once, so each is in the outbox.
    await waitFor(() => slack.received.some((m) => new Set(urlsIn([m])).size === 20), 10_000, 'a failed attempt with all 20');
    await first.kill9();
    assert.equal(slack.delivered().length, 0);

    slack.respond((_n, _req, res) => res.end('ok'));
    const second = await first.restart();
    running.push(second);
    await waitFor(() => new Set(urlsIn(slack.delivered())).size === 20, 10_000, 'all 20 delivered after the restart');
    await sleep(1500); // targets are still down and probed: nothing new must be announced
    const delivered = urlsIn(slack.delivered());
    assert.equal(delivered.length, 20, 'each event delivered once and no target re-alerted');
    assert.deepEqual(new Set(delivered), new Set(urls));
    await second.stop();
    await targets.close();
  });

  it('reminders say "is still", keep their schedule across a restart, and a recovery mentions nobody', async () => {
    const slack = await slackStub();
    const targets = await startTargetServer();
    targets.set('/flaky', { status: 502, statusMessage: 'Bad Gateway' });
    const env = { ...FAST_ENV, SLACK_HOOK_URL: slack.url, SPO2_REMIND_AFTER: '4s' };
    const first = await startSpo2({ backend, env });
    running.push(first);
    const url = targets.url('/flaky');
    await api(first.httpUrl, 'PUT', q(url));

    const bad = await waitFor(() => slack.delivered()[0], 5000, 'the outage reported');
    assert.deepEqual(bad.json.text!.split('\n'), ['<!channel>', `${url} reported Unhealthy (502 Bad Gateway)`]);
    await sleep(2000);
    await first.kill9();
    const second = await first.restart();
    running.push(second);

    const reminder = await waitFor(() => slack.delivered()[1], 8000, 'a reminder');
    assert.equal(reminder.json.text, `${url} is still Unhealthy`);
    const after = reminder.at - bad.at;
    assert.ok(after >= 3500 && after < 5500, `reminder ${after} ms after the outage was reported; due at 4 s, not 4 s after the restart`);

    targets.set('/flaky', { status: 200 });
    const recovered = await waitFor(() => slack.delivered().find((m) => m.json.text!.includes('is now Healthy')), 8000, 'the recovery');
    assert.equal(recovered.json.text, `${url} is now Healthy 🎉`);
    assert.equal(slack.delivered().filter((m) => m.json.text!.includes('reported')).length, 1, 'reported bad once');
    await second.stop();
    await targets.close();
  });
});
