import { hash, verify } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** argon2id cost parameters (PHC `m`, `t`, `p`). */
export interface Argon2Params {
  /** Memory in KiB (OWASP: 19456 = 19 MiB). */
  memoryCost: number;
  /** Passes (OWASP: 2). */
  timeCost: number;
  /** Lanes (OWASP: 1). */
  parallelism: number;
}

/** OWASP password-storage cheat sheet, argon2id option 2: m=19 MiB, t=2, p=1. */
export const OWASP_ARGON2ID: Argon2Params = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

/** `Algorithm.Argon2id`; the enum is an ambient const enum, unusable under isolatedModules. */
const ARGON2ID = 2 as Algorithm;

/**
 * Hashes and verifies login passwords with argon2id (PHC string format `$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
 * About 13–18 ms per hash or verify on the 2-core dev machine with the default parameters.
 */
export class PasswordHasher {
  readonly params: Argon2Params;
  #dummy: Promise<string> | undefined;

  constructor(params: Argon2Params = OWASP_ARGON2ID) {
    this.params = Object.freeze({ ...params });
  }

  /** A fresh PHC string with a random 16-byte salt. */
  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, ...this.params });
  }

  /**
   * True when `password` matches `phc`. A malformed hash counts as a mismatch (never throws for it).
   */
  async verify(phc: string, password: string): Promise<boolean> {
    try {
      const nc = /^([0-9]+)\|/.exec(phc);
      if (nc) return await verifyNextcloud(phc, password);
      return await verify(phc, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the same time as a real verification and returns false: used for unknown users so that
   * response time does not reveal whether an account exists.
   */
  async verifyDummy(password: string): Promise<false> {
    this.#dummy ??= this.hash('coffer-dummy-password-for-timing');
    await this.verify(await this.#dummy, password);
    return false;
  }

  /** True when `phc` was made with other parameters (or another algorithm) than the current ones. */
  needsRehash(phc: string): boolean {
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
    if (!m) return true;
    return Number(m[1]) !== this.params.memoryCost || Number(m[2]) !== this.params.timeCost || Number(m[3]) !== this.params.parallelism;
  }
}

/**
 * Nextcloud's stored hashes (lib/private/Security/Hasher.php), kept as they were by the importer
 * until the next successful login re-hashes them: `3|$argon2id$…`, `2|$argon2i$…`, `1|$2y$…`
 * (bcrypt), and the unprefixed legacy forms, which the importer stores as
 * `0|<base64 passwordsalt>|<hash>`: a 60-character bcrypt of password . passwordsalt (or of the
 * password alone) or a 40-digit SHA-1.
 */
async function verifyNextcloud(stored: string, password: string): Promise<boolean> {
  const bar = stored.indexOf('|');
  const version = stored.slice(0, bar);
  const rest = stored.slice(bar + 1);
  if (version === '1' || version === '2' || version === '3') return verifyPhpHash(rest, password);
  if (version !== '0') return false;
  const bar2 = rest.indexOf('|');
  if (bar2 < 0) return false;
  const salt = Buffer.from(rest.slice(0, bar2), 'base64').toString('utf8');
  const h = rest.slice(bar2 + 1);
  if (h.length === 60) return (salt !== '' && await verifyPhpHash(h, password + salt)) || verifyPhpHash(h, password);
  if (h.length === 40) {
    const mine = Buffer.from(createHash('sha1').update(password, 'utf8').digest('hex'));
    const theirs = Buffer.from(h.toLowerCase());
    return mine.length === theirs.length && timingSafeEqual(mine, theirs);
  }
  return false;
}

/** PHP password_verify for the algorithms Nextcloud used: argon2id, argon2i, bcrypt ($2y$ = $2b$). */
async function verifyPhpHash(h: string, password: string): Promise<boolean> {
  if (h.startsWith('$argon2')) return verify(h, password);
  if (/^\$2[aby]\$\d\d\$/.test(h)) return bcrypt.compare(password, h.replace(/^\$2y\$/, '$2b$'));
  return false;
}
