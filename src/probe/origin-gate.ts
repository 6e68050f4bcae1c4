/**
 * The connection budget of each origin: at most `limit` probes of one origin are in undici
 * at once (the agent's pool has as many connections), and the rest wait here, in order,
 * before their timeout or latency clock starts. Undici's own queue would hide that wait in
 * the probe: hundreds of targets behind one ingress then reported the queue as latency and
 * timed out probes that never got a connection.
 */

/** A probe waiting for a slot; the queue is linked through the waiters, no allocation per probe. */
export interface GateWaiter {
  nextWaiter: GateWaiter | null;
  /** Called once a slot is the waiter's; it must `leave()` exactly once when undici is done. */
  begin(): void;
}

/** One origin's slots and the probes waiting for one. */
export class OriginGate {
  /** Slots in use: probes between `begin()` and `leave()`. */
  active = 0;
  private head: GateWaiter | null = null;
  private tail: GateWaiter | null = null;
  private waitingCount = 0;
  private starting = false;

  constructor(readonly limit: number) {}

  /** Starts `waiter` now if a slot is free and no one is ahead of it, else queues it. */
  enter(waiter: GateWaiter): void {
    if (this.active < this.limit && this.head === null) {
      this.active++;
      waiter.begin();
      return;
    }
    waiter.nextWaiter = null;
    if (this.tail === null) this.head = waiter;
    else this.tail.nextWaiter = waiter;
    this.tail = waiter;
    this.waitingCount++;
  }

  /** Gives a slot back and hands it on to the first waiter. */
  leave(): void {
    this.active--;
    // A waiter that fails inside begin() leaves again at once: the loop below hands that
    // slot on too, instead of recursing once per waiter (20,000 probes at a stop).
    if (this.head === null || this.starting) return;
    this.starting = true;
    try {
      while (this.active < this.limit && this.head !== null) {
        const waiter: GateWaiter = this.head;
        this.head = waiter.nextWaiter;
        if (this.head === null) this.tail = null;
        waiter.nextWaiter = null;
        this.waitingCount--;
        this.active++;
        waiter.begin();
      }
    } finally {
      this.starting = false;
    }
  }

  get waiting(): number {
    return this.waitingCount;
  }

  get idle(): boolean {
    return this.active === 0 && this.head === null;
  }
}

/** Gates of origins no longer probed are dropped once the map has doubled since the last sweep. */
const MIN_SWEEP_AT = 1024;

/** Every origin's gate, all with the same limit (`SPO2_ORIGIN_CONNECTIONS`). */
export class OriginGates {
  private readonly gates = new Map<string, OriginGate>();
  private sweepAt = MIN_SWEEP_AT;

  constructor(readonly limit: number) {}

  /** The gate of `origin`; the caller enters it and holds it until it leaves. */
  of(origin: string): OriginGate {
    let gate = this.gates.get(origin);
    if (gate === undefined) {
      if (this.gates.size >= this.sweepAt) this.sweep();
      gate = new OriginGate(this.limit);
      this.gates.set(origin, gate);
    }
    return gate;
  }

  get size(): number {
    return this.gates.size;
  }

  /**
   * An idle gate holds nothing worth keeping, and no probe holds it: forgetting it is free.
   * Amortised over the insertions that doubled the map, so pods that come and go (an origin
   * each) leave no trail.
   */
  private sweep(): void {
    for (const [origin, gate] of this.gates) if (gate.idle) this.gates.delete(origin);
    this.sweepAt = Math.max(MIN_SWEEP_AT, 2 * this.gates.size);
  }
}
