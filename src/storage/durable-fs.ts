import { closeSync, fsyncSync, openSync, constants as fsc } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncFd, openFd } from './fd-io.ts';

/**
 * Group flushing: callers that made a change ask for a flush that starts after their request, and
 * every caller that asks while one flush runs shares the next one (group commit). So N concurrent
 * writers cost about two flushes, not N, and no caller is answered by a flush that began before
 * its change was made.
 */
export class GroupFlush {
  readonly #flush: () => Promise<void>;
  /** The flush that waits to start (every caller since the running one started shares it). */
  #next: Promise<void> | undefined;
  #running: Promise<void> | undefined;

  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }

  /** True while a flush runs or waits to start. */
  get busy(): boolean { return this.#running !== undefined || this.#next !== undefined; }

  /**
   * Resolves once a flush that started after this call has completed.
   * @throws the flush's error (every caller that shared it gets it).
   */
  flush(): Promise<void> {
    if (this.#next) return this.#next;
    const after = this.#running ? this.#running.then(noop, noop) : Promise.resolve();
    const next = after.then(() => {
      this.#next = undefined;
      const run = this.#flush();
      this.#running = run;
      const clear = () => { if (this.#running === run) this.#running = undefined; };
      run.then(clear, clear);
      return run;
    });
    this.#next = next;
    return next;
  }
}

function noop(): void { /* settled */ }

/** fsync(2) of a directory, so that the entries made in it (create, link, rename, mkdir) are on stable storage. @throws the open or flush error. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openFd(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncDir without the event loop (config writes, start-up). @throws the open or flush error. */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Directory flushes grouped per directory: many files created in one folder at once (blobs in one
 * shard, chunks of one upload) share one fsync of it instead of one each.
 */
export class DirSyncer {
  readonly #groups = new Map<string, GroupFlush>();

  /** Resolves once an fsync of `dir` that started after this call has completed. @throws the flush error. */
  async sync(dir: string): Promise<void> {
    let g = this.#groups.get(dir);
    if (!g) {
      g = new GroupFlush(() => fsyncDir(dir));
      this.#groups.set(dir, g);
    }
    try {
      await g.flush();
    } finally {
      if (!g.busy && this.#groups.get(dir) === g) this.#groups.delete(dir);
    }
  }

  /** mkdirDurable, with this syncer's grouped folder flushes. @throws the mkdir or flush error. */
  mkdirp(dir: string, mode?: number): Promise<void> {
    return mkdirDurable(dir, mode, (d) => this.sync(d));
  }
}

/**
 * mkdir -p that makes the new entries durable: the parent of every folder it created is fsynced
 * (deepest first), so a power cut cannot take back a folder that a durable file was put in.
 * @throws the mkdir or flush error.
 */
export async function mkdirDurable(dir: string, mode?: number, sync: (dir: string) => Promise<void> = fsyncDir): Promise<void> {
  const first = await mkdir(dir, { recursive: true, ...(mode !== undefined ? { mode } : {}) });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    await sync(dirname(d));
    if (d === first || dirname(d) === d) break;
  }
}
