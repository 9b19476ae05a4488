/** Crash tests' helpers: an installed instance on disk, a real `./occ serve` process, seeding. */
import { setTimeout as sleep } from 'node:timers/promises';
import { openApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/logger.ts';
import { OCC, spawnServer, type Served } from '../cli/occ-harness.ts';

export const ALICE = { uid: 'alice', password: 'alice-password-1' } as const;

export async function openLocal(configPath: string): Promise<App> {
  return openApp(loadConfig(configPath), { logger: silentLogger(), argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
}

/** Starts `./occ serve --port 0` for the config. */
export function serve(configPath: string): Promise<Served> {
  return spawnServer(OCC, ['serve', '--port', '0'], { COFFER_CONFIG: configPath }, { timeoutMs: 60_000 });
}

/** SIGKILLs the server and waits until it is gone. */
export async function kill(s: Served): Promise<void> {
  s.child.kill('SIGKILL');
  await s.exited;
  await sleep(50);
}

/**
 * Creates `n` empty files `<folder>/f<i>.txt` straight in the database, one transaction (what
 * FilesService would write for empty files; thousands of blobs would make the test slow).
 */
export async function seedFlatFolder(app: App, uid: string, folder: string, n: number): Promise<void> {
  const dir = await app.files.mkdir(uid, folder);
  const now = Math.floor(Date.now() / 1000);
  await app.db.transaction().execute(async (trx) => {
    for (let start = 0; start < n; start += 200) {
      const rows = [];
      for (let i = start; i < Math.min(n, start + 200); i++) {
        const id = await trx.insertInto('file_ids').defaultValues().returning('id').executeTakeFirstOrThrow();
        rows.push({
          fileid: Number(id.id), owner: uid, parent_id: dir.fileId, path: `${folder}/f${i}.txt`, name: `f${i}.txt`, kind: 'file' as const,
          size: 0, mtime: now, etag: `e${id.id}x${i}`, mimetype: 'text/plain', blob_id: null, blob_codec: null, checksum: null, favorite: 0,
        });
      }
      await trx.insertInto('nodes').values(rows).execute();
    }
  });
}

/** Number of nodes under `folder` (the folder itself excluded). */
export async function countUnder(app: App, uid: string, folder: string): Promise<number> {
  const r = await app.db.selectFrom('nodes').select((eb) => eb.fn.countAll().as('n')).where('owner', '=', uid)
    .where('path', 'like', `${folder}/%`).executeTakeFirstOrThrow();
  return Number(r.n);
}
