import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Status } from '../src/core/status.ts';
import type { NotifyEvent } from '../src/core/notify-event.ts';
import { collapse, formatSlack, formatWebhook } from '../src/notify/format.ts';
import { notifyEvent, T0 } from './notify-fixtures.ts';

function slack(groups: NotifyEvent[][], mention = '<!channel>', now = T0 + 20_000): string[] {
  return formatSlack(groups.map(collapse), { mention, now }).text.split('\n');
}

describe('Slack message lines (the notification contract)', () => {
  test('an unhealthy target is reported with its status line, an unreachable one with its error', () => {
    const lines = slack([
      [notifyEvent('https://a.example/health', 'bad', T0)],
      [notifyEvent('https://b.example/', 'bad', T0, { status: 'Unreachable', reason: 'connect ECONNREFUSED 10.0.0.7:7700', httpStatus: null })],
    ]);
    assert.deepEqual(lines, [
      '<!channel>',
      'https://a.example/health reported Unhealthy (503 Service Unavailable)',
      'https://b.example/ reported Unreachable (connect ECONNREFUSED 10.0.0.7:7700)',
    ]);
  });

  test('a recovery alone mentions nobody', () => {
    assert.deepEqual(slack([[notifyEvent('https://a.example/', 'recovered', T0)]]), ['https://a.example/ is now Healthy 🎉']);
  });

  test('a reminder says "is still" and mentions nobody', () => {
    const e = notifyEvent('https://a.example/', 'reminder', T0, { status: 'Unreachable', reason: 'timeout after 5000 ms', httpStatus: null });
    assert.deepEqual(slack([[e]]), ['https://a.example/ is still Unreachable']);
  });

  test('the mention is configurable and may be empty', () => {
    const bad = [[notifyEvent('https://a.example/', 'bad', T0)]];
    assert.equal(slack(bad, '<!here>')[0], '<!here>');
    assert.deepEqual(slack(bad, ''), ['https://a.example/ reported Unhealthy (503 Service Unavailable)']);
  });

  test('new trouble in a mixed batch opens with the mention', () => {
    const lines = slack([[notifyEvent('https://up.example/', 'recovered', T0)], [notifyEvent('https://down.example/', 'bad', T0)]]);
    assert.equal(lines[0], '<!channel>');
    assert.equal(lines.length, 3);
  });

  test('an outage that ended before the message went out keeps its status, reason and length', () => {
    const down = notifyEvent('https://a.example/', 'bad', T0, { reason: '502 Bad Gateway', httpStatus: 502 });
    const up = notifyEvent('https://a.example/', 'recovered', T0 + 12_000, {
      previous: { status: 'Unhealthy', reason: '502 Bad Gateway', httpStatus: 502, since: T0 },
    });
    assert.deepEqual(slack([[down, up]]), ['https://a.example/ is now Healthy 🎉 (was Unhealthy, 502 Bad Gateway, for 12 s)']);
  });

  test('a target that went bad and got a reminder in the same batch is still new trouble', () => {
    const lines = slack([[notifyEvent('https://a.example/', 'bad', T0), notifyEvent('https://a.example/', 'reminder', T0 + 1000)]]);
    assert.deepEqual(lines, ['<!channel>', 'https://a.example/ reported Unhealthy (503 Service Unavailable)']);
  });

  test('a flapping target collapses to its latest state and the message says how many events were folded', () => {
    const url = 'https://flap.example/';
    const events = [
      notifyEvent(url, 'bad', T0), notifyEvent(url, 'recovered', T0 + 5000),
      notifyEvent(url, 'bad', T0 + 9000, { status: 'Unreachable', reason: 'connect ECONNREFUSED 10.0.0.7:80', httpStatus: null }),
    ];
    assert.deepEqual(slack([events]), [
      '<!channel>',
      'https://flap.example/ reported Unreachable (connect ECONNREFUSED 10.0.0.7:80)',
      '(2 earlier events folded into these lines)',
    ]);
  });

  test('a message sent long after its events says it is late', () => {
    const lines = slack([[notifyEvent('https://a.example/', 'bad', T0)]], '<!channel>', T0 + 3_600_000);
    assert.equal(lines.at(-1), '(delivered late: the oldest event is from 2025-03-01T12:00:00Z, 1 h ago)');
  });

  test('URLs and reasons cannot smuggle mentions or links into Slack', () => {
    const e = notifyEvent('https://a.example/?x=1&y=<!channel>', 'bad', T0, { reason: '500 <!everyone>' });
    assert.deepEqual(slack([[e]], ''), ['https://a.example/?x=1&amp;y=&lt;!channel&gt; reported Unhealthy (500 &lt;!everyone&gt;)']);
  });
});

describe('generic webhook body', () => {
  test('one element per URL with status, previous, reason, httpStatus, at and data', () => {
    const up = notifyEvent('https://a.example/', 'recovered', T0 + 12_000, {
      data: { team: 'payments' }, previous: { status: 'Unhealthy', reason: '502 Bad Gateway', httpStatus: 502, since: T0 },
    });
    const body = formatWebhook([collapse([notifyEvent('https://a.example/', 'bad', T0), up])]);
    assert.deepEqual(body, {
      events: [{
        url: 'https://a.example/', status: 'Healthy' as Status, previous: 'Unhealthy' as Status, reason: '', httpStatus: 200,
        at: '2025-03-01T12:00:12.000Z', data: { team: 'payments' }, kind: 'recovered',
        previousReason: '502 Bad Gateway', previousHttpStatus: 502, previousSince: '2025-03-01T12:00:00.000Z', folded: 1,
      }],
    });
  });
});
