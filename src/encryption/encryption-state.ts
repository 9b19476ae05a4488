import type { AppConfigRepository } from '../db/app-config.ts';
import { KeyStore } from '../keys/key-store.ts';

/** Where the switches live (Nextcloud's appconfig names). */
export const STATE_APP = 'core';
export const ENABLED_KEY = 'encryption_enabled';
export const KEY_ROOT_KEY = 'encryption_key_storage_root';
export const DEFAULT_MODULE_KEY = 'default_encryption_module';
export const MODULE_ID = 'OC_DEFAULT_MODULE';
/** The app id of the Default encryption module (app:enable encryption). */
export const ENCRYPTION_APP = 'encryption';

export interface EncryptionStateSnapshot {
  readonly enabled: boolean;
  /** Key storage root, or undefined for the default (the data directory). */
  readonly keyRoot: string | undefined;
}

/**
 * Encryption on/off and the key storage root, read through the settings cache (SETTINGS_MAX_AGE_MS),
 * so that `occ encryption:enable` run in another process takes effect within a second.
 */
export class EncryptionState {
  readonly #appConfig: AppConfigRepository;
  constructor(appConfig: AppConfigRepository) { this.#appConfig = appConfig; }

  /** @throws database errors */
  async get(): Promise<EncryptionStateSnapshot> {
    const enabled = (await this.#appConfig.cachedGet(STATE_APP, ENABLED_KEY)) === 'yes';
    return { enabled, keyRoot: (await this.#appConfig.cachedGet(STATE_APP, KEY_ROOT_KEY)) || undefined };
  }

  /** Reads the database on the next get (a status shown to an admin must be current). */
  invalidate(): void { this.#appConfig.forget(STATE_APP); }
}

/** What follows the key storage root: the key manager (its current key store, shared by every key reader). */
export interface KeyStoreHolder {
  readonly keyStore: KeyStore;
  setKeyStore(store: KeyStore): void;
}

/**
 * Points `keys` at the key storage root the database names (`defaultRoot` when none is set), and
 * answers the state: `./occ encryption:change-key-storage-root` in another process moves the key
 * files, and this process must follow before it reads or writes one. `fresh` reads the database
 * instead of the settings cache (at most a second old: the keys may be gone from the old root).
 * @throws database errors
 */
export async function followKeyRoot(keys: KeyStoreHolder, state: EncryptionState, defaultRoot: string, fresh = false): Promise<EncryptionStateSnapshot> {
  if (fresh) state.invalidate();
  const s = await state.get();
  const root = s.keyRoot ?? defaultRoot;
  if (keys.keyStore.root !== root) keys.setKeyStore(new KeyStore(root));
  return s;
}
