import { EventEmitter } from 'node:events';
import type { Transition } from './core/health.js';
import type { TargetChange, TargetValue } from './core/target.js';

/** A transition or a reminder of one target, with the target as it is now. */
export interface TransitionEvent {
  target: TargetValue;
  transition: Transition;
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
