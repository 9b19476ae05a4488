import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { enableEncryption } from '../support/encryption-enabler.ts';

const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

/** A test instance with encryption enabled in per-user-key mode (or master-key mode). */
export async function perUserInstance(opts: { perUser?: boolean } = {}): Promise<TestInstance> {
  const inst = await startTestInstance();
  await enableEncryption(inst);
  if (opts.perUser ?? true) {
    await inst.app.userKeys.setPerUserMode(true, 0);
    await inst.restart(); // the key policy is chosen when the app opens
  }
  return inst;
}

/** `./occ …` against the instance's config; env additions; stdin closed. */
export function occ(inst: TestInstance, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(`${ROOT}/occ`, args, { encoding: 'utf8', timeout: 60_000, input: '', env: { ...process.env, COFFER_CONFIG: inst.configPath, ...env } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Every file below `dir`. */
export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p)); else out.push(p);
  }
  return out;
}

/** True when `marker` appears in any file below `dir` (database and audit log excluded). */
export function plaintextOnDisk(dir: string, marker: string): string | undefined {
  for (const f of walk(dir)) {
    if (/\.db(-wal|-shm)?$|audit\.log$/.test(f)) continue;
    if (readFileSync(f).includes(marker)) return f;
  }
  return undefined;
}

export function put(inst: TestInstance, as: { uid: string; password: string }, path: string, body: Buffer | string): Promise<Response> {
  return inst.fetch(`/remote.php/dav/files/${as.uid}/${path}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body), as });
}

export async function get(inst: TestInstance, as: { uid: string; password: string }, path: string): Promise<{ status: number; body: Buffer }> {
  const r = await inst.fetch(`/remote.php/dav/files/${as.uid}/${path}`, { as });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

/** OCS call with form parameters as `as`. */
export async function ocs(inst: TestInstance, as: { uid: string; password: string }, method: string, path: string, params: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await inst.fetch(`/ocs/v2.php/${path}?format=json`, {
    method, as, body: method === 'GET' ? undefined : new URLSearchParams(params).toString(),
    headers: { 'OCS-APIRequest': 'true', 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { status: r.status, body: await r.text() };
}
