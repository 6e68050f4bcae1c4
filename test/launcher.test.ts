/**
 * `npm start` is how the README starts SpO₂: the service must stop with its launcher,
 * whether npm is asked to stop (SIGTERM, forwarded) or killed outright (SIGKILL).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { tempDir, waitFor } from './helpers.ts';

const ROOT = new URL('..', import.meta.url).pathname;

async function npmStart(): Promise<{ kill: (signal: NodeJS.Signals) => void; httpUrl: string }> {
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', HTTP_LISTEN_ADDR: '127.0.0.1:0', WS_LISTEN_ADDR: 'off', DATABASE_PATH: join(tempDir(), 'spo2.db') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const httpUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: npm.stdout! }).on('line', (text) => {
      if (text.includes('"SpO₂ started"')) resolve(String((JSON.parse(text) as { http: string }).http));
    });
    npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
  });
  return { kill: (signal) => npm.kill(signal), httpUrl };
}

async function answers(url: string): Promise<boolean> {
  try {
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`the server stops when npm start gets ${signal}`, async () => {
      const { kill, httpUrl } = await npmStart();
      assert.ok(await answers(httpUrl));
      kill(signal);
      await waitFor(async () => !(await answers(httpUrl)), 10_000, `the server to stop after ${signal} to npm`);
    });
  }
});
