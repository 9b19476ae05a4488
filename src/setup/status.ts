import type { App } from '../app.ts';
import { COMPAT_VERSION_FULL, COMPAT_VERSION_STRING, PRODUCT_NAME } from './version.ts';

/** The `/status.php` object (Nextcloud's shape), also printed by `./occ status`. */
export interface InstanceStatus {
  installed: boolean;
  maintenance: boolean;
  needsDbUpgrade: boolean;
  version: string;
  versionstring: string;
  edition: string;
  productname: string;
  extendedSupport: boolean;
}

/**
 * The instance status; `app` null means not installed.
 * @throws database errors (reading the maintenance flag)
 */
export async function instanceStatus(app: App | null, opts: { needsDbUpgrade?: boolean } = {}): Promise<InstanceStatus> {
  return {
    installed: app !== null,
    maintenance: app ? await app.maintenance.isOn() : false,
    needsDbUpgrade: opts.needsDbUpgrade ?? false,
    version: COMPAT_VERSION_FULL,
    versionstring: COMPAT_VERSION_STRING,
    edition: '',
    productname: PRODUCT_NAME,
    extendedSupport: false,
  };
}
