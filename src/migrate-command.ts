import { CONFIG_OPTIONS } from './config.js';
import { CopyError } from './store/copy.js';
import { createPool, redactedUrl } from './store/postgres/connect.js';
import { importDatabase } from './store/postgres/import.js';
import { exportDatabase } from './store/sqlite/export.js';

const USAGE = 'usage: spo2 migrate --to postgres://USER:PASSWORD@HOST:5432/DATABASE [--database-path PATH]\n' +
  '  (--to defaults to $DATABASE_URL, which keeps the password off the command line; PATH defaults to $DATABASE_PATH, as for spo2 serve)';

/**
 * `spo2 migrate --to postgres://…`: copies the SQLite database (DATABASE_PATH) into an empty
 * PostgreSQL database — targets with their ids, data and health, and the undelivered
 * notifications — in one transaction. The file is read from a consistent online copy, so
 * this is safe beside a running server; but what that server writes afterwards is not
 * copied (docs/operations.md: stop it first). Exit 2 for what the operator must fix
 * (arguments, no database there, a PostgreSQL database that is not empty), 1 when the copy failed.
 */
export async function migrateCommand(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const parsed = parseArgs(args, env);
  if (typeof parsed === 'string') {
    process.stderr.write(`spo2: ${parsed}\n${USAGE}\n`);
    return 2;
  }
  const where = redactedUrl(parsed.to);
  const started = Date.now();
  let copy;
  try {
    copy = await exportDatabase(parsed.database);
  } catch (err) {
    if (!(err instanceof CopyError)) throw err;
    process.stderr.write(`spo2: ${err.message}\n`);
    return err.usage ? 2 : 1;
  }
  const pool = createPool(parsed.to, { max: 1 });
  try {
    const done = await importDatabase(pool, parsed.to, copy);
    const schema = done.migrated.length ? `schema created (versions ${done.migrated.join(', ')}); ` : '';
    process.stdout.write(`copied DATABASE_PATH=${parsed.database} into ${where}: ${schema}${done.targets} targets, ` +
      `${done.pendingNotifications} undelivered notifications, schema version ${copy.schemaVersion}, in ${Date.now() - started} ms; ` +
      `new ids continue after target ${copy.lastIds.targets} and notification ${copy.lastIds.outbox}\n`);
    return 0;
  } catch (err) {
    if (err instanceof CopyError) {
      process.stderr.write(`spo2: ${err.message}\n`);
      return err.usage ? 2 : 1;
    }
    // The driver's errors (refused, unknown host, password rejected, no such database) say
    // what is wrong; the URL beside them never shows the password. The copy is one
    // transaction: none of it stays (the schema may, empty, and a second run goes on from there).
    process.stderr.write(`spo2: cannot copy into ${where}: ${describe(err)}; no row was copied\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

/** An error's message; Node's connection attempts to several addresses fail with an AggregateError and no message of its own. */
function describe(err: unknown): string {
  if (err instanceof AggregateError && !err.message) return err.errors.map((e: Error) => e.message).join('; ');
  return err instanceof Error ? err.message : String(err);
}

function parseArgs(args: string[], env: Record<string, string | undefined>): { to: string; database: string } | string {
  const option = CONFIG_OPTIONS.find((o) => o.key === 'databasePath')!;
  let database = env[option.env] || option.default;
  let to = env.DATABASE_URL || '';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    // A stray argument is not echoed: it may be the URL, password and all, without its --to.
    if (name !== option.flag && name !== '--to') return arg.startsWith('--') ? `unknown option ${name}` : 'unexpected argument: give the URL with --to';
    const value = inline ?? args[++i];
    if (!value) return `option ${name} needs a value`;
    if (name === '--to') to = value;
    else database = value;
  }
  if (to === '') return 'where to? give --to postgres://… (or set DATABASE_URL)';
  if (database === '') return 'DATABASE_PATH must not be empty';
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    // Not echoed: an unparsable URL may still hold a password.
    return '--to is not a URL; expected postgres://USER:PASSWORD@HOST:5432/DATABASE';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `--to must be a postgres:// URL, not ${redactedUrl(to)}`;
  return { to, database };
}
