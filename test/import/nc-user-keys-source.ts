/** The per-user-keys fixture as the import tests use it: unpacked, its dump loaded, a fresh Coffer beside it. */
import { join } from 'node:path';
import { installCoffer, unpack, type Coffer, type Unpacked } from './nc-fixture.ts';
import { loadMariaDbDump, type LoadedMariaDb } from './nc-mariadb.ts';

export interface UserKeysSource { nc: Unpacked; maria: LoadedMariaDb; coffer: Coffer }

/** Unpacks `nc32-user-keys`, loads its MariaDB dump into 127.0.0.1:3306 and installs an empty Coffer. */
export async function openUserKeysSource(): Promise<UserKeysSource> {
  const nc = unpack('user-keys');
  const maria = loadMariaDbDump(join(nc.root, 'db.sql'));
  return { nc, maria, coffer: await installCoffer() };
}

/** Drops what openUserKeysSource made (each part that exists: a failed `before` leaves some unset). */
export function closeUserKeysSource(s: Partial<UserKeysSource>): void {
  s.maria?.drop();
  s.coffer?.cleanup();
  s.nc?.cleanup();
}
