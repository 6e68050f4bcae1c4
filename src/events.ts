import { EventEmitter } from 'node:events';
import type { Transition } from './core/health.js';
import type { TargetChange, TargetValue } from './core/target.js';
import type { Added } from './store/ports.js';

/**
 * A transition or a reminder of one target, with the target as it is now, emitted once
 * the store has written it (its health and its outbox rows, in one transaction).
 */
export interface TransitionEvent {
  target: TargetValue;
  transition: Transition;
  /** The outbox rows written with it; null when the write failed (the notifier then sends from memory). */
  outbox: Added | null;
}

interface BusEvents {
  change: [TargetChange];
  transition: [TransitionEvent];
}

/**
 * The one place side effects hang off: the monitor emits, the WebSocket hub and the
 * notifier listen. Listeners run synchronously, in emission order.
 */
export class EventBus extends EventEmitter<BusEvents> {
  constructor() {
    super();
    this.setMaxListeners(0); // one listener per WebSocket client is fine
  }
}
