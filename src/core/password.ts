import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** `SPO2_BASIC_AUTH`: one user and the scrypt hash of its password. */
export interface BasicCredential {
  user: string;
  /** `$scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>` */
  hash: string;
}

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** Node's default cost: ~16 MiB and tens of milliseconds per check, on the thread pool. */
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };
const HASH_FORMAT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function decode(encoded: string): ScryptHash | null {
  const m = HASH_FORMAT.exec(encoded);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A power of two above 1 is what scrypt accepts; the caps keep a typo from asking for gigabytes.
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || key.length < 16) return null;
  return { N, r, p, salt, key };
}

function derive(password: string, h: Omit<ScryptHash, 'key'>, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, h.salt, length, { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** The string to put after `user:` in `SPO2_BASIC_AUTH` (`spo2 hash-password` prints it). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, { ...DEFAULT_COST, salt }, 32);
  return `$scrypt$N=${DEFAULT_COST.N},r=${DEFAULT_COST.r},p=${DEFAULT_COST.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time check of a password against a hash made by `hashPassword`. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const h = decode(encoded);
  if (!h) return false;
  const key = await derive(password, h, h.key.length);
  return timingSafeEqual(key, h.key);
}

/** Compares two secrets in constant time, whatever their lengths. */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Config parser for `user:$scrypt$...`; the error never repeats the value. */
export function parseBasicCredential(raw: string): BasicCredential | null {
  if (raw === '') return null;
  const colon = raw.indexOf(':');
  const user = raw.slice(0, colon);
  const hash = raw.slice(colon + 1);
  if (colon < 1 || /[\s:]/.test(user)) throw new Error('expected user:hash, e.g. admin:$scrypt$N=16384,... (make the hash with `spo2 hash-password`)');
  if (!decode(hash)) throw new Error('the password hash is not a valid $scrypt$ hash (make one with `spo2 hash-password`)');
  return { user, hash };
}
