import { statfs } from 'node:fs/promises';

/** Bytes an unprivileged writer may still use on the filesystem holding `dir`; null when it cannot be told. */
export async function freeBytes(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}
