/**
 * The database a bench run gives SpO₂: a fresh SQLite file, or a fresh throwaway PostgreSQL
 * cluster (test/pg-cluster.ts: its own data folder and port, fsync on, so a commit costs
 * what it costs in production), whose own CPU is measured beside SpO₂'s.
 */
import { join } from 'node:path';
import pg from 'pg';
import { startPgCluster, type PgCluster } from '../test/pg-cluster.js';
import { serverCpuMs } from './procs.js';

export type Engine = 'sqlite' | 'postgres';

export interface BenchDatabase {
  engine: Engine;
  /** How SpO₂ is told to use it. */
  env: Record<string, string>;
  /** In words, for the table. */
  label: string;
  /** CPU ms so far of the database server's processes; null when the database runs inside SpO₂ (SQLite). */
  serverCpuMs: (() => number) | null;
  /** Throws unless the database itself holds `n` targets: proof that SpO₂ used it and not a file of its own. */
  expectTargets(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function openBenchDatabase(engine: Engine, dir: string): Promise<BenchDatabase> {
  if (engine === 'sqlite') {
    return {
      engine, env: { DATABASE_PATH: join(dir, 'spo2.db') }, label: 'SQLite (WAL, synchronous=FULL)', serverCpuMs: null,
      expectTargets: async () => undefined, close: async () => undefined,
    };
  }
  const cluster: PgCluster = await startPgCluster();
  const pool = new pg.Pool({ connectionString: cluster.url, max: 1 });
  const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v.split(' ')[0];
  return {
    engine,
    // DATABASE_PATH too, in a folder of its own: a build that ignores DATABASE_URL would
    // otherwise create spo2.db in the current folder.
    env: { DATABASE_URL: cluster.url, DATABASE_PATH: join(dir, 'ignored-spo2.db') },
    label: `PostgreSQL ${version} (throwaway cluster on loopback, fsync on)`,
    serverCpuMs: () => serverCpuMs(cluster.pid()),
    async expectTargets(n) {
      let held: number;
      try {
        held = Number((await pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM targets')).rows[0]!.n);
      } catch (err) {
        throw new Error(`SpO₂ wrote nothing to PostgreSQL (${(err as Error).message}): does this build understand DATABASE_URL?`);
      }
      if (held !== n) throw new Error(`PostgreSQL holds ${held} targets, SpO₂ acknowledged ${n}`);
    },
    async close() {
      await pool.end();
      await cluster.stop();
    },
  };
}
