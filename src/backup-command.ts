import { CONFIG_OPTIONS } from './config.js';
import { BackupError, backupDatabase } from './store/sqlite/backup.js';

const USAGE = 'usage: spo2 backup FILE [--database-path PATH]   (PATH defaults to $DATABASE_PATH, as for spo2 serve)';

/**
 * `spo2 backup FILE`: a consistent copy of the database, taken by opening DATABASE_PATH
 * directly (same machine or container as the server) while the server runs. Exit 2 for
 * what the operator must fix (arguments, no database there), 1 when the copy failed.
 */
export async function backupCommand(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const parsed = parseArgs(args, env);
  if (typeof parsed === 'string') {
    process.stderr.write(`spo2: ${parsed}\n${USAGE}\n`);
    return 2;
  }
  try {
    const b = await backupDatabase(parsed.database, parsed.file);
    process.stdout.write(`backup of DATABASE_PATH=${parsed.database} written to ${b.file}: ${b.targets} targets, ` +
      `${b.pendingNotifications} undelivered notifications, schema version ${b.schemaVersion}, ${b.bytes} bytes in ${b.ms} ms; integrity_check ok\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof BackupError)) throw err;
    process.stderr.write(`spo2: ${err.message}\n`);
    return err.usage ? 2 : 1;
  }
}

function parseArgs(args: string[], env: Record<string, string | undefined>): { file: string; database: string } | string {
  const option = CONFIG_OPTIONS.find((o) => o.key === 'databasePath')!;
  let database = env[option.env] || option.default;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === option.flag) {
      const value = args[++i];
      if (!value) return `option ${option.flag} needs a value`;
      database = value;
    } else if (arg.startsWith(option.flag + '=')) {
      database = arg.slice(option.flag.length + 1);
    } else if (arg.startsWith('--')) {
      return `unknown option ${arg}`;
    } else {
      files.push(arg);
    }
  }
  // With DATABASE_URL the state is in PostgreSQL: a copy of a stale (or absent) SQLite file would be no backup.
  if (env.DATABASE_URL) return 'DATABASE_URL is set: the state is in PostgreSQL, back it up with the database\'s own tools (pg_dump, snapshots); spo2 backup copies the SQLite file only';
  if (files.length !== 1) return files.length === 0 ? 'which file should the backup go to?' : `one backup file, not ${files.length}`;
  if (database === '') return 'DATABASE_PATH must not be empty';
  return { file: files[0]!, database };
}
