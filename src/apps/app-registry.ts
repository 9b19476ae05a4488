import type { AppConfigRepository } from '../db/app-config.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { COFFER_VERSION } from '../setup/version.ts';
import { ENABLED_KEY as ENCRYPTION_ENABLED_KEY, STATE_APP as ENCRYPTION_STATE_APP } from '../encryption/encryption-state.ts';

/** An app Coffer knows (Nextcloud's app ids where one exists). */
export interface AppInfo {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  /** State on a fresh install and when nothing is stored. */
  readonly defaultEnabled: boolean;
  /** Cannot be disabled. */
  readonly alwaysEnabled: boolean;
}

/** Every app, in listing order. New modules join by adding an entry here. */
export const KNOWN_APPS: readonly AppInfo[] = Object.freeze([
  { id: 'dav', name: 'WebDAV', version: COFFER_VERSION, defaultEnabled: true, alwaysEnabled: true },
  { id: 'encryption', name: 'Default encryption module', version: COFFER_VERSION, defaultEnabled: false, alwaysEnabled: false },
  { id: 'files', name: 'Files', version: COFFER_VERSION, defaultEnabled: true, alwaysEnabled: true },
]);

/** `app:list`'s shape, as Nextcloud prints it: id → version. */
export interface AppList {
  enabled: Record<string, string>;
  disabled: Record<string, string>;
}

/**
 * App enablement, stored in app config (`<app>`/`enabled` = 'yes' | 'no'). Stateless: build one
 * over `app.appConfig` wherever needed.
 */
export class AppRegistry {
  readonly #appConfig: AppConfigRepository;
  readonly #apps: readonly AppInfo[];

  constructor(appConfig: AppConfigRepository, apps: readonly AppInfo[] = KNOWN_APPS) {
    this.#appConfig = appConfig;
    this.#apps = apps;
  }

  /** Every known app. */
  all(): readonly AppInfo[] { return this.#apps; }

  /** @throws NotFoundError for an unknown id */
  info(id: string): AppInfo {
    const a = this.#apps.find((x) => x.id === id);
    if (!a) throw new NotFoundError(`App "${id}" is not known (known apps: ${this.#apps.map((x) => x.id).join(', ')})`);
    return a;
  }

  /** @throws NotFoundError for an unknown id */
  async isEnabled(id: string): Promise<boolean> {
    const a = this.info(id);
    if (a.alwaysEnabled) return true;
    const v = await this.#appConfig.get(id, 'enabled');
    return v === undefined ? a.defaultEnabled : v === 'yes';
  }

  async list(): Promise<AppList> {
    const out: AppList = { enabled: {}, disabled: {} };
    for (const a of this.#apps) (await this.isEnabled(a.id) ? out.enabled : out.disabled)[a.id] = a.version;
    return out;
  }

  /**
   * Enables an app; returns false when it already was.
   * @throws NotFoundError for an unknown id
   */
  async enable(id: string): Promise<boolean> {
    const was = await this.isEnabled(id);
    await this.#appConfig.set(id, 'enabled', 'yes');
    return !was;
  }

  /**
   * Disables an app; returns false when it already was.
   * @throws NotFoundError for an unknown id; ForbiddenError for an always-enabled app;
   *         ConflictError for `encryption` while server-side encryption is enabled.
   */
  async disable(id: string): Promise<boolean> {
    const a = this.info(id);
    if (a.alwaysEnabled) throw new ForbiddenError(`App "${id}" is always enabled and cannot be disabled`);
    if (id === 'encryption' && (await this.#appConfig.get(ENCRYPTION_STATE_APP, ENCRYPTION_ENABLED_KEY)) === 'yes') {
      throw new ConflictError('The encryption app cannot be disabled while server-side encryption is enabled; run ./occ encryption:disable first');
    }
    const was = await this.isEnabled(id);
    await this.#appConfig.set(id, 'enabled', 'no');
    return was;
  }
}
