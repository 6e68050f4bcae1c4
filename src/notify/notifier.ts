import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { Config } from '../config.js';
import type { EventBus, TransitionEvent } from '../events.js';
import { DEFAULT_TIMING, Delivery, type DeliveryTiming, type Sender } from './delivery.js';
import { toNotifyEvent, type Destination } from '../core/notify-event.js';
import { incidentQuietMs } from './incident.js';
import type { Outbox, Trimmed } from '../store/ports.js';
import { slackSender } from './slack.js';
import { webhookSender } from './webhook.js';

export type NotifierConfig = Pick<Config, 'slackHookUrl' | 'slackMention' | 'webhookUrl' | 'webhookSecret' | 'notifyBatch' | 'notifyWindowMs'>;

export interface NotifierOptions {
  config: NotifierConfig;
  bus: EventBus;
  /** The store's outbox (the engine's, wired in app.ts). */
  outbox: Outbox;
  logger: Logger;
  clock?: () => number;
  timing?: Partial<DeliveryTiming>;
  random?: () => number;
  /** How long stop() waits for a message in flight. */
  stopGraceMs?: number;
}

/**
 * How long stop() lets a message in flight finish before aborting it: short, because the
 * whole process must be gone within 2 s of SIGTERM; an aborted message stays in the
 * outbox and goes out after the restart.
 */
const STOP_GRACE_MS = 500;

/**
 * Turns transitions and reminders into Slack messages and webhook calls: every event is
 * in the outbox (written in the transaction of the health change) before anything is
 * sent, then each configured destination delivers it at least once, batched and paced.
 */
export class Notifier {
  private readonly outbox: Outbox;
  private readonly deliveries = new Map<Destination, Delivery>();
  private readonly logger: Logger;
  private readonly agent: Agent;
  private volatileIds = 0;
  /** Events sent from memory since the last one that was stored: an outage is logged once, not per event. */
  private undurable = 0;
  private started = false;

  constructor(private readonly opts: NotifierOptions) {
    const { config } = opts;
    this.logger = opts.logger.child({ component: 'notifier' });
    this.outbox = opts.outbox;
    const timing: DeliveryTiming = { ...DEFAULT_TIMING, ...opts.timing };
    this.agent = new Agent({ connectTimeout: timing.requestTimeoutMs });
    const senders: Sender[] = [];
    if (config.slackHookUrl) senders.push(slackSender(config.slackHookUrl, config.slackMention));
    if (config.webhookUrl) senders.push(webhookSender(config.webhookUrl, config.webhookSecret));
    for (const sender of senders) {
      this.deliveries.set(sender.destination, new Delivery({
        sender,
        outbox: this.outbox,
        logger: this.logger,
        batch: { maxLines: config.notifyBatch, windowMs: config.notifyWindowMs },
        timing,
        dispatcher: this.agent,
        clock: opts.clock ?? Date.now,
        random: opts.random ?? Math.random,
        incidentQuietMs: incidentQuietMs(config.notifyWindowMs),
      }));
    }
  }

  /** The destinations that will get messages. */
  get destinations(): Destination[] {
    return [...this.deliveries.keys()];
  }

  /** Events not yet delivered, per destination. */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.deliveries].map(([d, delivery]) => [d, delivery.pending]));
  }

  /** Subscribes to transitions, then resends what an earlier run left undelivered. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // A limit lowered since the last run applies at once, before anything is loaded.
    this.applyTrims(await this.outbox.trim());
    const left = await this.outbox.counts();
    for (const [destination, n] of Object.entries(left)) {
      if (!this.deliveries.has(destination as Destination)) {
        this.logger.warn({ destination, events: n }, 'undelivered notifications kept for a destination that is not configured');
      }
    }
    if (this.deliveries.size === 0) {
      this.logger.info('notifications off: set SLACK_HOOK_URL or SPO2_WEBHOOK_URL to get them');
      return;
    }
    // Subscribe before loading: an event emitted meanwhile is stored and added once (ids dedupe).
    this.opts.bus.on('transition', this.onTransition);
    for (const [destination, delivery] of this.deliveries) {
      const entries = await this.outbox.pending(destination);
      if (entries.length > 0) this.logger.info({ destination, events: entries.length }, 'sending notifications left undelivered by the last run');
      delivery.add(entries, true);
    }
    this.logger.info({ destinations: this.destinations }, 'notifier started');
  }

  /** Stops listening and sending; what is still pending stays in the outbox for the next start. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.opts.bus.off('transition', this.onTransition);
    await Promise.all([...this.deliveries.values()].map((d) => d.stop(this.opts.stopGraceMs ?? STOP_GRACE_MS)));
    await this.agent.close();
  }

  private applyTrims(trimmed: readonly Trimmed[]): void {
    for (const t of trimmed) {
      const delivery = this.deliveries.get(t.destination as Destination);
      if (delivery) delivery.dropped(t);
      else this.logger.warn({ destination: t.destination, dropped: t.count }, 'outbox full: dropped the oldest notifications kept for a destination that is not configured');
    }
  }

  // The monitor wrote the event to the outbox with the transition (one store call, see
  // monitor.ts) before emitting it: the notifier only delivers what is stored.
  private readonly onTransition = (e: TransitionEvent): void => {
    if (e.outbox) {
      if (this.undurable > 0) this.logger.warn({ events: this.undurable }, 'notifications are stored again; the ones that could not be were sent without a durable copy');
      this.undurable = 0;
      for (const entry of e.outbox.entries) this.deliveries.get(entry.destination)?.add([entry]);
      this.applyTrims(e.outbox.trimmed);
      return;
    }
    // Not durable, but still true: deliver it from memory rather than not at all.
    const event = toNotifyEvent(e.target, e.transition);
    if (this.undurable++ === 0) this.logger.error({ url: event.url, kind: event.kind }, 'could not store a notification; sending it, and the next ones until the store works again, without a durable copy');
    const id = -++this.volatileIds;
    for (const [destination, delivery] of this.deliveries) delivery.add([{ id, destination, event }]);
  };
}
