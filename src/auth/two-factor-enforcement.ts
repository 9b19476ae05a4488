import type { AppConfigRepository } from '../db/app-config.ts';

/** Who must use a second factor (Nextcloud's `twofactorauth:enforce` state). */
export interface EnforcementState {
  readonly enforced: boolean;
  /** Empty: everyone (when enforced). */
  readonly enforcedGroups: readonly string[];
  readonly excludedGroups: readonly string[];
}

// Nextcloud's app config keys (app `core`), so an admin finds them where they expect.
const APP = 'core';
const K_ENFORCED = 'twofactor_enforced';
const K_GROUPS = 'twofactor_enforced_groups';
const K_EXCLUDED = 'twofactor_enforced_excluded_groups';

function parseList(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const a = JSON.parse(v) as unknown;
    return Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The enforcement state in the app config (shared by every server process). */
export class TwoFactorEnforcement {
  readonly #cfg: AppConfigRepository;
  constructor(cfg: AppConfigRepository) { this.#cfg = cfg; }

  /** Read from the database on every call (one query): `./occ twofactorauth:enforce` applies at once. */
  async get(): Promise<EnforcementState> {
    const all = await this.#cfg.all(APP);
    return {
      enforced: all[K_ENFORCED] === 'true',
      enforcedGroups: parseList(all[K_GROUPS]),
      excludedGroups: parseList(all[K_EXCLUDED]),
    };
  }

  async set(s: EnforcementState): Promise<void> {
    await this.#cfg.set(APP, K_ENFORCED, s.enforced ? 'true' : 'false');
    await this.#cfg.set(APP, K_GROUPS, JSON.stringify([...new Set(s.enforcedGroups)]));
    await this.#cfg.set(APP, K_EXCLUDED, JSON.stringify([...new Set(s.excludedGroups)]));
  }

  /** Whether the state enforces a second factor for a member of `groups` (excluded groups win, as in Nextcloud). */
  static applies(s: EnforcementState, groups: readonly string[]): boolean {
    if (!s.enforced) return false;
    if (s.excludedGroups.some((g) => groups.includes(g))) return false;
    return s.enforcedGroups.length === 0 || s.enforcedGroups.some((g) => groups.includes(g));
  }
}
