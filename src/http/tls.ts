import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

export interface TlsPaths {
  tlsCert: string | null;
  tlsKey: string | null;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** A server whose certificate can be swapped without restarting (https.Server, tls.Server). */
export interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
}

interface Log {
  info(msg: string): void;
  error(msg: string): void;
}

/**
 * Reads and checks the certificate and key, or returns null when TLS is not configured.
 * Throws an Error naming the file when one cannot be read or they do not match.
 */
export function readTlsFiles(paths: TlsPaths): TlsFiles | null {
  if (paths.tlsCert === null || paths.tlsKey === null) return null;
  const read = (path: string, name: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${name} ${path}: ${(err as Error).message}`);
    }
  };
  const files = { cert: read(paths.tlsCert, 'SPO2_TLS_CERT'), key: read(paths.tlsKey, 'SPO2_TLS_KEY') };
  try {
    createSecureContext(files);
  } catch (err) {
    // OpenSSL's message may quote key material; it names the problem well enough without it.
    const reason = (err as Error).message.split('\n', 1)[0]!.slice(0, 200);
    throw new Error(`SPO2_TLS_CERT ${paths.tlsCert} and SPO2_TLS_KEY ${paths.tlsKey} do not make a usable certificate: ${reason}`);
  }
  return files;
}

/**
 * Re-reads the certificate files on SIGHUP (what certbot's deploy hook sends) and swaps
 * them into every server; a bad pair is logged and the running certificate kept.
 * Returns a function that stops listening for the signal.
 */
export function reloadTlsOnSighup(servers: SecureServer[], paths: TlsPaths, log: Log): () => void {
  if (paths.tlsCert === null || paths.tlsKey === null) return () => {};
  const reload = (): void => {
    try {
      const files = readTlsFiles(paths)!;
      for (const server of servers) server.setSecureContext(files);
      log.info(`reloaded TLS certificate from ${paths.tlsCert}`);
    } catch (err) {
      log.error(`TLS reload failed, keeping the current certificate: ${(err as Error).message}`);
    }
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}
