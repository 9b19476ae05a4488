/**
 * Who acts on content. Every service call that reads or writes content takes one as its first
 * parameter (as immich's services take `auth`), so that which keys unwrap a read and which tree a
 * write lands in never depends on ambient request state. It lives at the root, beside errors.ts,
 * because every layer from the adapters down to the encryption layer's key policy speaks of it.
 */
export type Actor = UserActor | LinkActor | SystemActor;

/** An authenticated user: the owner of a tree or a share recipient. */
export interface UserActor {
  readonly kind: 'user';
  readonly uid: string;
  /** How the credentials were presented (a per-user-key session is unlocked only by some). */
  readonly via: 'password' | 'app-password' | 'session';
}

/** A visitor of a public link: reads and writes only through that link's share. */
export interface LinkActor {
  readonly kind: 'link';
  readonly token: string;
}

/**
 * The server itself: the CLI, background jobs, bulk conversion. Reads with the owner's keys where
 * the key policy allows the server to (master key, or an unlocked/recovery-held user key).
 */
export interface SystemActor {
  readonly kind: 'system';
  /** What runs (for audit lines and errors), e.g. 'cli', 'gc', 'encrypt-all'. */
  readonly reason: string;
}

/** The actor for a user who authenticated by `via`. */
export function userActor(uid: string, via: UserActor['via']): UserActor {
  return Object.freeze({ kind: 'user', uid, via });
}

/** The actor for a visitor of the public link `token`. */
export function linkActor(token: string): LinkActor {
  return Object.freeze({ kind: 'link', token });
}

/** The server acting for itself, `reason` naming the job. */
export function systemActor(reason: string): SystemActor {
  return Object.freeze({ kind: 'system', reason });
}

/** The CLI (`./occ`) acting as the server. */
export const SYSTEM: SystemActor = systemActor('cli');

/**
 * True when `actor` acts with the rights of `owner` over `owner`'s tree: `owner` themself, or the
 * server (which uses the owner's keys only where the key policy holds them). Sharees and link
 * visitors never do, whatever they reach.
 */
export function actsAsOwner(actor: Actor, owner: string): boolean {
  return actor.kind === 'system' || (actor.kind === 'user' && actor.uid === owner);
}

/** A short name of the actor for errors and audit lines (`alice`, `a public link`, `the server (gc)`). */
export function describeActor(actor: Actor): string {
  return actor.kind === 'user' ? actor.uid : actor.kind === 'link' ? 'a public link' : `the server (${actor.reason})`;
}
