import { initialHealth, type Transition, type TransitionKind } from '../src/core/health.ts';
import { type Destination, type NotifyEvent, toNotifyEvent } from '../src/core/notify-event.ts';
import type { TargetValue } from '../src/core/target.ts';
import type { EventBus } from '../src/events.ts';
import type { Store } from '../src/store/ports.ts';

/** Shared by the notify-* tests: events as the monitor's transitions produce them. */
export const T0 = Date.parse('2025-03-01T12:00:00Z');

/** An event of `url`; a recovery ends a 12 s outage of 503s unless `over` says otherwise. */
export function notifyEvent(url: string, kind: TransitionKind, at: number, over: Partial<NotifyEvent> = {}): NotifyEvent {
  const bad = kind !== 'recovered';
  return {
    url, kind, at, data: null,
    status: bad ? 'Unhealthy' : 'Healthy',
    reason: bad ? '503 Service Unavailable' : '',
    httpStatus: bad ? 503 : 200,
    previous: bad
      ? { status: kind === 'reminder' ? 'Unhealthy' : 'Healthy', reason: '', httpStatus: 200, since: T0 - 60_000 }
      : { status: 'Unhealthy', reason: '503 Service Unavailable', httpStatus: 503, since: at - 12_000 },
    ...over,
  };
}


/**
 * What the monitor does with a transition: one store call writes its health and its
 * outbox rows, then the event goes on the bus with the rows the notifier must deliver.
 */
export async function recordTransition(
  to: { store: Store; bus: EventBus; destinations: readonly Destination[] },
  t: { target: TargetValue; transition: Transition },
): Promise<void> {
  const outbox = await to.store.recordTransition({ id: t.target.id, health: initialHealth(t.transition.at) }, toNotifyEvent(t.target, t.transition), to.destinations);
  to.bus.emit('transition', { ...t, outbox });
}
