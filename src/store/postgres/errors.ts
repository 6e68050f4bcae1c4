import pg from 'pg';
import { StoreUnavailableError, type StoreTroubleKind } from '../ports.js';

/**
 * One stable reason per kind: the outage is logged when it starts and when its reason
 * changes, and the many ways one outage shows (refused, reset, "terminating connection",
 * "the database system is starting up") must not read as many outages.
 */
const UNREACHABLE = 'database server unreachable';

/** SQLSTATE codes (or their two-letter class) that are the database's trouble, not one write's. */
const STATES: ReadonlyArray<{ code: string; kind: StoreTroubleKind; reason: string }> = [
  { code: '08', kind: 'unreachable', reason: UNREACHABLE }, // connection exception
  { code: '57P01', kind: 'unreachable', reason: UNREACHABLE }, // admin shutdown
  { code: '57P02', kind: 'unreachable', reason: UNREACHABLE }, // crash shutdown
  { code: '57P03', kind: 'unreachable', reason: UNREACHABLE }, // cannot connect now (starting up, recovering)
  { code: '57P05', kind: 'unreachable', reason: UNREACHABLE }, // idle session timeout
  // statement_timeout (connect.ts): a server that takes 10 s for our small statements is not serving.
  { code: '57014', kind: 'unreachable', reason: 'database server does not answer in time' },
  { code: '53300', kind: 'unreachable', reason: 'database server has no connection left (max_connections)' },
  { code: '53100', kind: 'disk-full', reason: 'disk full on the database server' },
  { code: '53200', kind: 'io-error', reason: 'database server out of memory' },
  { code: '58', kind: 'io-error', reason: 'I/O error on the database server' }, // system error
  // A primary that became a standby (failover), or default_transaction_read_only.
  { code: '25006', kind: 'read-only', reason: 'database is read-only' },
  { code: '42501', kind: 'read-only', reason: 'the role in DATABASE_URL may not write the schema (permission denied)' },
  { code: '28', kind: 'cannot-open', reason: 'the database refused the login in DATABASE_URL' }, // invalid authorization
  { code: '3D000', kind: 'cannot-open', reason: 'the database named in DATABASE_URL does not exist' },
  { code: 'XX001', kind: 'corrupt', reason: 'the database server reports corrupted data' },
  { code: 'XX002', kind: 'corrupt', reason: 'the database server reports a corrupted index' },
];

/** Node's socket errors: the server is down, gone or out of reach. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** pg's own messages for a connection that is lost, never made, or stuck (it gives them no code). */
const LOST = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Connection terminated due to connection timeout)/;

/**
 * The one place that turns the driver's errors into StoreUnavailableError; null for an
 * error of one write (a constraint, bad data), which fails that write alone. `where` is
 * `DATABASE_URL=` with the password masked. The trouble is never lasting: PostgreSQL's
 * problems are mended on the server, and the store rechecks until they are.
 */
export function storeErrorOf(err: unknown, where: string): StoreUnavailableError | null {
  if (err instanceof StoreUnavailableError) return err;
  if (!(err instanceof Error)) return null;
  const kind = kindOf(err);
  return kind ? new StoreUnavailableError(kind.kind, kind.reason, where, false, { cause: err }) : null;
}

function kindOf(err: Error): { kind: StoreTroubleKind; reason: string } | null {
  if (err instanceof pg.DatabaseError) {
    const code = err.code ?? '';
    return STATES.find((s) => code === s.code || (s.code.length === 2 && code.startsWith(s.code))) ?? null;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if ((code && SOCKET_CODES.has(code)) || LOST.test(err.message)) return { kind: 'unreachable', reason: UNREACHABLE };
  // AggregateError (a host with several addresses, all refused) and wrapped causes.
  const inner = err instanceof AggregateError ? err.errors[0] : (err as Error & { cause?: unknown }).cause;
  return inner instanceof Error ? kindOf(inner) : null;
}
