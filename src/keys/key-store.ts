import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fsyncDir, mkdirDurable } from '../storage/durable-fs.ts';
import { NotFoundError, ValidationError } from '../errors.ts';

/** Nextcloud's module folder name. */
export const MODULE_ID = 'OC_DEFAULT_MODULE';
const KEY_DIR = 'files_encryption';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Where a key file lives: the system scope or one user's scope. */
export type KeyScope = { readonly kind: 'system' } | { readonly kind: 'user'; readonly uid: string };
export const SYSTEM: KeyScope = { kind: 'system' };
export const userScope = (uid: string): KeyScope => ({ kind: 'user', uid });

function checkUid(uid: string): void {
  if (!uid || uid === '.' || uid === '..' || uid.includes('/') || uid.includes('\\') || uid.includes('\0') || uid === KEY_DIR) {
    throw new ValidationError(`invalid user id for key storage: ${JSON.stringify(uid)}`);
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new ValidationError(`invalid key file name: ${JSON.stringify(name)}`);
}

/** Writes a file atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export async function writeFileAtomic(path: string, data: Buffer | string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdirDurable(dir, 0o700);
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    await fh.close().catch(() => {});
  }
  await rename(tmp, path);
  await fsyncDir(dir); // the rename is durable only once its folder is
}

/**
 * Key files on disk in Nextcloud's layout, under a "keys root" (default: the data directory):
 * system keys in `<root>/files_encryption/OC_DEFAULT_MODULE/`, user keys in
 * `<root>/<uid>/files_encryption/OC_DEFAULT_MODULE/`. Files are named by key id, never by a file path.
 * Writes are atomic (temp + fsync + rename). Knows nothing about what the bytes mean.
 */
export class KeyStore {
  readonly root: string;
  constructor(root: string) { this.root = root; }

  /** Folder of a scope. @throws ValidationError for a bad uid. */
  dirOf(scope: KeyScope): string {
    if (scope.kind === 'system') return join(this.root, KEY_DIR, MODULE_ID);
    checkUid(scope.uid);
    return join(this.root, scope.uid, KEY_DIR, MODULE_ID);
  }

  /** @throws NotFoundError when the key file is missing. */
  async read(scope: KeyScope, name: string): Promise<Buffer> {
    checkName(name);
    try {
      return await readFile(join(this.dirOf(scope), name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`key file ${name} is missing from the key storage (${this.dirOf(scope)})`);
      throw err;
    }
  }

  /** The file's bytes, or undefined when missing. */
  async tryRead(scope: KeyScope, name: string): Promise<Buffer | undefined> {
    try { return await this.read(scope, name); } catch (err) { if (err instanceof NotFoundError) return undefined; throw err; }
  }

  /** True when the key file exists (a stat, no read). */
  async has(scope: KeyScope, name: string): Promise<boolean> {
    checkName(name);
    return (await stat(join(this.dirOf(scope), name)).catch(() => undefined))?.isFile() === true;
  }

  async write(scope: KeyScope, name: string, data: Buffer | string): Promise<void> {
    checkName(name);
    await writeFileAtomic(join(this.dirOf(scope), name), data);
  }

  /** Deletes a key file; missing is not an error. */
  async delete(scope: KeyScope, name: string): Promise<void> {
    checkName(name);
    await unlink(join(this.dirOf(scope), name)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
  }

  /** Key file names of a scope (temp files excluded). */
  async list(scope: KeyScope): Promise<string[]> {
    const names = await readdir(this.dirOf(scope)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => NAME.test(n)).sort();
  }

  /** Uids that have a key folder. */
  async users(): Promise<string[]> {
    const out: string[] = [];
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || e.name === KEY_DIR || e.name.startsWith('.')) continue;
      const st = await stat(join(this.root, e.name, KEY_DIR, MODULE_ID)).catch(() => undefined);
      if (st?.isDirectory()) out.push(e.name);
    }
    return out.sort();
  }

  /** Every key file, as paths relative to the root with '/' separators (for backup and moves). */
  async allFiles(): Promise<string[]> {
    const out: string[] = [];
    const scopes: KeyScope[] = [SYSTEM, ...(await this.users()).map(userScope)];
    for (const s of scopes) {
      for (const n of await this.list(s)) out.push(relative(this.root, join(this.dirOf(s), n)).split(sep).join('/'));
    }
    return out;
  }

  /** Reads a file by its root-relative path (as listed by allFiles). */
  async readRelative(rel: string): Promise<Buffer> {
    return readFile(this.#resolveRelative(rel));
  }

  /** Writes a file by its root-relative path, atomically. @throws ValidationError for paths outside the layout. */
  async writeRelative(rel: string, data: Buffer): Promise<void> {
    await writeFileAtomic(this.#resolveRelative(rel), data);
  }

  #resolveRelative(rel: string): string {
    const parts = rel.split('/');
    const ok = (parts.length === 3 && parts[0] === KEY_DIR && parts[1] === MODULE_ID && NAME.test(parts[2]!))
      || (parts.length === 4 && parts[1] === KEY_DIR && parts[2] === MODULE_ID && NAME.test(parts[3]!));
    if (!ok) throw new ValidationError(`not a key file path: ${JSON.stringify(rel)}`);
    if (parts.length === 4) checkUid(parts[0]!);
    return join(this.root, ...parts);
  }

  /**
   * Removes one user's key folder (`<root>/<uid>/files_encryption/`) and `<root>/<uid>/` when that
   * is then empty (user deletion: a new account with the same name must not find the old keys).
   * @throws ValidationError for a bad uid
   */
  async removeUser(uid: string): Promise<void> {
    checkUid(uid);
    await rm(join(this.root, uid, KEY_DIR), { recursive: true, force: true });
    await rmdir(join(this.root, uid)).catch(() => {});
  }

  /**
   * Removes the key files that `other` holds byte for byte (under the same relative path), then the
   * key folders left empty; a file `other` lacks or holds otherwise stays. Answers what stayed.
   */
  async removeCopiedTo(other: KeyStore): Promise<string[]> {
    const uids = await this.users();
    const left: string[] = [];
    for (const rel of await this.allFiles()) {
      const mine = await this.readRelative(rel);
      const theirs = await other.readRelative(rel).catch(() => undefined);
      if (theirs?.equals(mine)) await unlink(this.#resolveRelative(rel)).catch(() => {});
      else left.push(rel);
    }
    // rmdir removes only what is empty now
    for (const base of [...uids.map((u) => join(this.root, u)), this.root]) {
      await rmdir(join(base, KEY_DIR, MODULE_ID)).catch(() => {});
      await rmdir(join(base, KEY_DIR)).catch(() => {});
    }
    return left;
  }
}
