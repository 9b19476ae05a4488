import { readFile } from 'node:fs/promises';
import { ValidationError } from '../errors.ts';
import { parsePhpConfig, type PhpArray, type PhpValue } from './php-config-parser.ts';

/** What the importer uses of Nextcloud's config.php. */
export interface NcConfig {
  readonly secret: string;
  readonly passwordSalt: string;
  readonly instanceId: string;
  readonly dataDirectory: string;
  readonly dbType: 'sqlite3' | 'mysql' | 'pgsql';
  readonly dbHost: string;
  readonly dbName: string;
  readonly dbUser: string;
  readonly dbPassword: string;
  readonly dbPort: string;
  readonly tablePrefix: string;
  readonly maintenance: boolean;
  readonly version: string;
  /** `default_timezone`: the timezone of users who set none (Nextcloud's default: UTC). */
  readonly defaultTimezone: string;
}

function str(a: PhpArray, key: string, dflt = ''): string {
  const v: PhpValue | undefined = a.get(key);
  if (v === undefined || v === null) return dflt;
  if (v instanceof Map) throw new ValidationError(`config.php: "${key}" is an array`);
  return String(v);
}

/**
 * Reads config.php (parsed, never executed). `dataDir` overrides `datadirectory` (--nextcloud-data).
 * @throws ValidationError when the file cannot be parsed or lacks secret/instanceid/dbtype
 */
export async function readNcConfig(file: string, dataDir?: string): Promise<NcConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ValidationError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const a = parsePhpConfig(text);
  const dbType = str(a, 'dbtype', 'sqlite3');
  const type = dbType === 'sqlite' ? 'sqlite3' : dbType;
  if (type !== 'sqlite3' && type !== 'mysql' && type !== 'pgsql') throw new ValidationError(`config.php: dbtype "${dbType}" is not supported (sqlite3, mysql, pgsql)`);
  const cfg: NcConfig = {
    secret: str(a, 'secret'),
    passwordSalt: str(a, 'passwordsalt'),
    instanceId: str(a, 'instanceid'),
    dataDirectory: dataDir ?? str(a, 'datadirectory'),
    dbType: type,
    dbHost: str(a, 'dbhost', 'localhost'),
    dbName: str(a, 'dbname', 'owncloud'),
    dbUser: str(a, 'dbuser'),
    dbPassword: str(a, 'dbpassword'),
    dbPort: str(a, 'dbport'),
    tablePrefix: str(a, 'dbtableprefix', 'oc_'),
    maintenance: a.get('maintenance') === true,
    version: str(a, 'version'),
    defaultTimezone: str(a, 'default_timezone', 'UTC') || 'UTC',
  };
  for (const k of ['secret', 'instanceId', 'dataDirectory'] as const) {
    if (cfg[k] === '') throw new ValidationError(`config.php has no ${k === 'instanceId' ? 'instanceid' : k === 'dataDirectory' ? 'datadirectory' : k}`);
  }
  if (!/^[A-Za-z0-9_]*$/.test(cfg.tablePrefix)) throw new ValidationError(`config.php: unusable dbtableprefix "${cfg.tablePrefix}"`);
  return cfg;
}
