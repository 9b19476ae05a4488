import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/** One audit-log line. `ts` is an ISO 8601 timestamp. */
export interface AuditEntry {
  ts: string;
  event: string;
  uid?: string;
  ip?: string;
  [field: string]: unknown;
}

/** Field names that are never written, whatever a caller passes. */
const SECRET_FIELD = /pass(word|wd)?$|^pass|secret|token|authori[sz]ation|cookie|credential|private/i;

/**
 * Append-only JSON-lines audit log (`<datadirectory>/audit.log`, mode 0600): logins, failures,
 * throttling, admin actions, integrity failures. Fields that look like secrets are dropped.
 * Lines are written with O_APPEND, one write each, so several processes can share the file.
 */
export class AuditLog {
  readonly path: string;
  #fh: Promise<FileHandle> | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(path: string) { this.path = path; }

  /**
   * Appends one event. Resolves once written.
   * @throws Error when the file cannot be opened or written.
   */
  record(event: string, fields: Record<string, unknown> = {}): Promise<void> {
    const entry: Record<string, unknown> = { ts: new Date().toISOString(), event };
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'ts' || k === 'event' || v === undefined || SECRET_FIELD.test(k)) continue;
      entry[k] = v;
    }
    const line = JSON.stringify(entry) + '\n';
    const p = this.#chain.then(async () => {
      const fh = await this.#handle();
      await fh.write(line);
    });
    this.#chain = p.catch(() => undefined);
    return p;
  }

  loginSuccess(f: { uid: string; ip: string; method: string }): Promise<void> { return this.record('login.success', f); }
  loginFailure(f: { uid?: string; ip: string; method: string; reason?: string }): Promise<void> { return this.record('login.failure', f); }
  loginThrottled(f: { uid?: string; ip: string; method: string; retryAfter: number }): Promise<void> { return this.record('login.throttled', f); }

  /**
   * Entries in file order, optionally only those at or after `since` and/or about `user`.
   * Yields nothing when the file does not exist yet; skips lines that are not JSON.
   */
  async *read(filter: { since?: Date | number; user?: string } = {}): AsyncGenerator<AuditEntry> {
    await this.#chain;
    const since = filter.since === undefined ? undefined : (filter.since instanceof Date ? filter.since.getTime() : filter.since);
    let stream;
    try {
      const fh = await open(this.path, 'r');
      stream = fh.createReadStream({ encoding: 'utf8' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (!line) continue;
        let e: AuditEntry;
        try { e = JSON.parse(line) as AuditEntry; } catch { continue; }
        if (since !== undefined && Date.parse(e.ts) < since) continue;
        if (filter.user !== undefined && e.uid !== filter.user) continue;
        yield e;
      }
    } finally {
      rl.close();
      stream.destroy();
    }
  }

  /** Closes the file (a later `record` reopens it). */
  async close(): Promise<void> {
    await this.#chain;
    const fh = this.#fh;
    this.#fh = undefined;
    if (fh) await (await fh).close();
  }

  #handle(): Promise<FileHandle> {
    this.#fh ??= (async () => {
      await mkdir(dirname(this.path), { recursive: true });
      return open(this.path, 'a', 0o600);
    })();
    const p = this.#fh;
    p.catch(() => { if (this.#fh === p) this.#fh = undefined; });
    return p;
  }
}
