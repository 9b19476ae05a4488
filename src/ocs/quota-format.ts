import { ValidationError } from '../errors.ts';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4, p: 1024 ** 5, pb: 1024 ** 5, pib: 1024 ** 5 };

/**
 * Parses a quota as Nextcloud accepts it: bytes (`1073741824`), a human size (`5 GB`, `512MB`,
 * binary multiples as Nextcloud), or `none`/`default`/`unlimited`/`-3` for unlimited (null).
 * @throws ValidationError
 */
export function parseQuota(value: string): number | null {
  const v = value.trim().toLowerCase();
  if (v === 'none' || v === 'default' || v === 'unlimited' || v === '-3' || v === '') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(v);
  const mult = m ? UNITS[m[2]] : undefined;
  if (!m || mult === undefined) throw new ValidationError(`Invalid quota value: ${value}`);
  const bytes = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(bytes)) throw new ValidationError(`Invalid quota value: ${value}`);
  return bytes;
}

/** Nextcloud's quota object for cloud/user(s). `freeSpace` is the data disk's free bytes (used for unlimited). */
export function quotaInfo(used: number, quota: number | null, freeSpace: number): { free: number; used: number; total: number; relative: number; quota: number } {
  if (quota === null) {
    const total = used + freeSpace;
    return { free: freeSpace, used, total, relative: total > 0 ? round2((used / total) * 100) : 0, quota: -3 };
  }
  return { free: Math.max(0, quota - used), used, total: quota, relative: quota > 0 ? round2((used / quota) * 100) : 0, quota };
}

function round2(x: number): number { return Math.round(x * 100) / 100; }
