import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FAST_ENV, type Spo2, api, backends, q, refusedUrl, startSpo2, startTargetServer, waitFor } from './helpers.ts';

const engines = backends();
after(() => Promise.all(engines.map((b) => b.stop())));

for (const backend of engines) describe(`durability and restart (${backend.name})`, { skip: backend.skip }, () => {
  const running: Spo2[] = [];
  after(async () => { for (const s of running) await s.kill9(); });

  it('kill -9 right after the acknowledgements loses no registration and no removal', async () => {
    const first = await startSpo2({ backend, env: { SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' } });
    running.push(first);
    const urls = Array.from({ length: 300 }, (_, i) => `http://127.0.0.1:1/pod/${i}`);
    const acks = await Promise.all(urls.map((u, i) => api(first.httpUrl, 'PUT', q(u), { i })));
    assert.ok(acks.every((r) => r.status === 200));
    const removed = await Promise.all(urls.slice(0, 50).map((u) => api(first.httpUrl, 'DELETE', q(u))));
    assert.ok(removed.every((r) => r.status === 200));
    await first.kill9();

    const second = await first.restart();
    running.push(second);
    const all = (await api(second.httpUrl, 'GET', '/all')).body as Array<{ url: string; data: { i: number }; id: number }>;
    assert.equal(all.length, 250);
    const byUrl = new Map(all.map((v) => [v.url, v]));
    for (let i = 50; i < 300; i++) assert.deepEqual(byUrl.get(urls[i]!)?.data, { i });
    for (let i = 0; i < 50; i++) assert.equal(byUrl.has(urls[i]!), false);
    const ids = new Map(acks.map((r) => [r.body.url, r.body.id]));
    for (const v of all) assert.equal(v.id, ids.get(v.url), 'ids are stable across restarts');
    await second.stop();
  });

  it('a restart neither re-announces a known-bad target nor forgets it was bad', async () => {
    const targets = await startTargetServer();
    targets.set('/down', { status: 500 });
    const dead = await refusedUrl();
    const first = await startSpo2({ backend, env: FAST_ENV });
    running.push(first);
    await api(first.httpUrl, 'PUT', q(dead));
    await api(first.httpUrl, 'PUT', q(targets.url('/down')));
    await api(first.httpUrl, 'PUT', q(targets.url('/up')));
    await waitFor(async () => {
      const all = (await api(first.httpUrl, 'GET', '/all')).body as Array<{ status: string }>;
      return all.filter((v) => v.status !== 'Healthy').length === 2;
    }, 8000, 'two targets bad');
    const before = (await api(first.httpUrl, 'GET', q(dead))).body;
    await new Promise((r) => setTimeout(r, 300)); // the transition's write is immediate; give it a turn
    await first.kill9();

    const second = await first.restart();
    running.push(second);
    // Right away, before any probe: the damped state is back.
    const after = (await api(second.httpUrl, 'GET', q(dead))).body;
    assert.equal(after.status, 'Unreachable');
    assert.equal(after.since, before.since, 'the outage keeps its start');
    assert.equal((await api(second.httpUrl, 'GET', q(targets.url('/down')))).body.status, 'Unhealthy');
    // Probing resumes, and no transition is announced again.
    await waitFor(() => targets.hits('/up') > 0 && targets.hits('/down') > 0, 5000, 'probing resumed');
    await new Promise((r) => setTimeout(r, 1500));
    const announced = second.logs.filter((l) => l.msg === 'target went bad');
    assert.deepEqual(announced, []);
    await second.stop();
    await targets.close();
  });

  it('SIGTERM stops cleanly and keeps the latest raw results', async () => {
    const targets = await startTargetServer();
    const first = await startSpo2({ backend, env: { ...FAST_ENV, SPO2_FLUSH_INTERVAL: '1h' } });
    running.push(first);
    await api(first.httpUrl, 'PUT', q(targets.url('/a')));
    const probed = await waitFor(async () => {
      const v = (await api(first.httpUrl, 'GET', q(targets.url('/a')))).body;
      return v.lastCheck ? v : null;
    });
    assert.equal(await first.stop(), 0);
    assert.ok(first.logs.some((l) => l.msg === 'SpO₂ stopped'));
    const second = await first.restart({ SPO2_INTERVAL: '1h', SPO2_FAST_INTERVAL: '1h' });
    running.push(second);
    const v = (await api(second.httpUrl, 'GET', q(targets.url('/a')))).body;
    assert.ok(v.lastCheck >= probed.lastCheck, 'the last check survived the restart');
    assert.equal(v.httpStatus, 200);
    await second.stop();
    await targets.close();
  });

  it('a listen address in use stops start-up, naming the variable, instead of running half-started', async () => {
    const first = await startSpo2({ backend, wsListener: true });
    running.push(first);
    const taken = new URL(first.wsUrl!).host;
    let stdout = '';
    await assert.rejects(startSpo2({ backend, env: { WS_LISTEN_ADDR: taken }, onStdout: (line) => (stdout += line + '\n') }), new RegExp(`cannot listen on WS_LISTEN_ADDR=${taken}: .*EADDRINUSE`));
    // Nothing may claim to be listening when the process is about to exit.
    assert.doesNotMatch(stdout, /listening/i);
    await first.stop();
  });

  it('a bad configuration stops start-up with a message naming the variable', async () => {
    await assert.rejects(startSpo2({ env: { SPO2_INTERVAL: 'often' } }), /SPO2_INTERVAL="often"/);
  });
});
