import type { KeyStore } from './key-store.ts';

/**
 * The key store in use: the key storage root can change while a process runs
 * (encryption:change-key-storage-root), so every holder of keys reads it through this one object,
 * built first in openApp and passed to each of them.
 */
export class CurrentKeyStore {
  #store: KeyStore;

  constructor(store: KeyStore) { this.#store = store; }

  get store(): KeyStore { return this.#store; }

  /** Switches every holder to another key storage root. */
  set(store: KeyStore): void { this.#store = store; }
}
