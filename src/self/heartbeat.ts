import type { Logger } from 'pino';
import { Agent, request } from 'undici';

export interface HeartbeatOptions {
  /** Where to send `GET` (a dead-man's switch: healthchecks.io, Uptime Kuma push, Cronitor…). */
  url: string;
  intervalMs: number;
  /** Why SpO₂ is not well now; a heartbeat goes out only when there is none. */
  problems: () => Promise<string[]>;
  logger: Logger;
}

/** One ping: connect to answer, at most this long (and never longer than the interval). */
const PING_TIMEOUT_MS = 10_000;

/**
 * Sends `GET url` every interval while SpO₂ is well, so that an external dead-man's switch
 * notices a SpO₂ that died, hangs, lost its storage or cannot deliver notifications: it
 * simply stops hearing from it. The URL usually holds a secret token: it is never logged,
 * only its host.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private readonly agent: Agent;
  private abort: AbortController | null = null;
  private beating: Promise<void> | null = null;
  private stopped = false;
  /** The problems of the last pause, null while beating. */
  private paused: string[] | null = null;
  private failing = false;
  private readonly host: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HeartbeatOptions) {
    this.host = new URL(opts.url).host;
    this.timeoutMs = Math.min(PING_TIMEOUT_MS, opts.intervalMs);
    this.agent = new Agent({ connectTimeout: this.timeoutMs, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  /** The first heartbeat goes at once: a wrong URL shows in the log at start-up. */
  start(): void {
    this.opts.logger.info({ host: this.host, everyMs: this.opts.intervalMs }, 'heartbeat on');
    this.beat();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    await this.beating;
    await this.agent.close();
  }

  private beat(): void {
    this.timer = null;
    if (this.stopped) return;
    this.beating = this.opts.problems().then((problems) => this.beatIfWell(problems), (err: unknown) => this.beatIfWell([`cannot tell: ${(err as Error).message}`]));
  }

  private beatIfWell(problems: string[]): Promise<void> | void {
    if (this.stopped) return;
    if (problems.length > 0) {
      if (this.paused === null || this.paused.join() !== problems.join()) {
        this.opts.logger.warn({ problems }, `heartbeat paused: ${problems.join('; ')}`);
      }
      this.paused = problems;
      this.schedule();
      return;
    }
    if (this.paused !== null) this.opts.logger.info('heartbeat resumed: SpO₂ is well again');
    this.paused = null;
    return this.ping().finally(() => this.schedule());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.beat(), this.opts.intervalMs);
    this.timer.unref();
  }

  private async ping(): Promise<void> {
    this.abort = new AbortController();
    const timeout = setTimeout(() => this.abort?.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    let failure: string | null = null;
    try {
      const res = await request(this.opts.url, { method: 'GET', dispatcher: this.agent, signal: this.abort.signal, headers: { 'user-agent': 'spo2-heartbeat' } });
      await res.body.dump();
      if (res.statusCode < 200 || res.statusCode >= 300) failure = `HTTP ${res.statusCode}`;
    } catch (err) {
      if (this.stopped) return;
      failure = (err as Error).message;
    } finally {
      clearTimeout(timeout);
      this.abort = null;
    }
    // One line when pings start failing and one when they work again, not one a minute.
    if (failure !== null && !this.failing) this.opts.logger.warn({ host: this.host, error: failure }, `heartbeat not delivered: ${failure}; trying again every interval`);
    if (failure === null && this.failing) this.opts.logger.info({ host: this.host }, 'heartbeat delivered again');
    this.failing = failure !== null;
  }
}
