/** Loads a Nextcloud MariaDB dump into a fresh database on 127.0.0.1:3306 (the local server). */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface LoadedMariaDb { readonly url: string; readonly name: string; drop(): void }

function mysql(args: string[], input?: string): string {
  return execFileSync('mysql', ['-uroot', '--default-character-set=utf8mb4', ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Creates a database and a read-only user for it, and loads `dumpFile` as the fixture README says
 * (CREATE DATABASE … utf8mb4_bin, then the dump through the mysql client).
 * @returns a mysql:// URL with the new user's credentials
 */
export function loadMariaDbDump(dumpFile: string): LoadedMariaDb {
  const name = `nc_import_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  mysql(['-e', `CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; CREATE USER '${name}'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT SELECT ON ${name}.* TO '${name}'@'127.0.0.1';`]);
  mysql([name], readFileSync(dumpFile, 'utf8'));
  return {
    name,
    url: `mysql://${name}:${password}@127.0.0.1:3306/${name}`,
    drop() { mysql(['-e', `DROP DATABASE IF EXISTS ${name}; DROP USER IF EXISTS '${name}'@'127.0.0.1';`]); },
  };
}
