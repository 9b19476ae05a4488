import type { AppConfigRepository } from '../db/app-config.ts';

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
 * Encryption on/off and the key storage root, read from the database with a short cache (default
 * 1 s), so that `occ encryption:enable` run in another process takes effect within a second.
 */
export class EncryptionState {
  readonly #appConfig: AppConfigRepository;
  readonly #ttlMs: number;
  #cached: { at: number; value: EncryptionStateSnapshot } | undefined;

  constructor(appConfig: AppConfigRepository, ttlMs = 1000) {
    this.#appConfig = appConfig;
    this.#ttlMs = ttlMs;
  }

  async get(): Promise<EncryptionStateSnapshot> {
    const now = Date.now();
    if (this.#cached && now - this.#cached.at < this.#ttlMs) return this.#cached.value;
    const all = await this.#appConfig.all(STATE_APP);
    const value = { enabled: all[ENABLED_KEY] === 'yes', keyRoot: all[KEY_ROOT_KEY] || undefined };
    this.#cached = { at: now, value };
    return value;
  }

  /** Forget the cache (after this process changed the state). */
  invalidate(): void { this.#cached = undefined; }
}
