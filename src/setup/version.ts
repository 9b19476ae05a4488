import { readFileSync } from 'node:fs';

/** Coffer's own version (package.json). */
export const COFFER_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The Nextcloud server version Coffer presents to clients (status.php, capabilities): clients
 * gate features on it, so it names the Nextcloud release whose protocols Coffer speaks.
 */
export const COMPAT_VERSION = { major: 30, minor: 0, micro: 0, patch: 0 } as const;

/** `30.0.0.0` (status.php `version`). */
export const COMPAT_VERSION_FULL = `${COMPAT_VERSION.major}.${COMPAT_VERSION.minor}.${COMPAT_VERSION.micro}.${COMPAT_VERSION.patch}`;

/** `30.0.0` (status.php `versionstring`, capabilities `version.string`). */
export const COMPAT_VERSION_STRING = `${COMPAT_VERSION.major}.${COMPAT_VERSION.minor}.${COMPAT_VERSION.micro}`;

export const PRODUCT_NAME = 'Coffer';
