/**
 * Enforcement of WebDAV locks and the `If` header for requests on a user's files tree.
 * Locks are enforced by token (RFC 4918 §7): whoever submits the token in `If` may write.
 */
import type { IncomingMessage } from 'node:http';
import type { App } from '../app.ts';
import { LockedError, PreconditionFailedError } from '../errors.ts';
import { isSameOrBelow, lockCovers, type Lock } from '../files/lock-service.ts';
import { parentPath } from '../files/paths.ts';
import { resolveFilesTarget } from './dav-target.ts';
import { evaluateIfHeader, parseIfHeader, submittedTokens, type IfHeader, type IfResourceState } from './if-header.ts';

export interface WriteTarget {
  path: string;
  depth: 0 | 'infinity';
}

const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i;
const NO_STATE: IfResourceState = { etag: null, hasLock: () => false };

/** The parsed `If` header of a request, or undefined. @throws ValidationError when malformed (→ 400). */
export function requestIfHeader(req: IncomingMessage): IfHeader | undefined {
  const raw = req.headers.if;
  if (raw === undefined) return undefined;
  return parseIfHeader(Array.isArray(raw) ? raw.join(' ') : raw);
}

/** Path of the request URI in `uid`'s files tree, or undefined (uploads space, another user…). */
function requestPath(req: IncomingMessage, uid: string): string | undefined {
  const url = req.url ?? '/';
  const q = url.search(/[?#]/);
  try {
    return resolveFilesTarget(q < 0 ? url : url.slice(0, q), uid)?.path;
  } catch {
    return undefined;
  }
}

/** Maps a tagged resource (absolute URL or path) to a path in `uid`'s tree, or undefined. */
function taggedPath(req: IncomingMessage, uid: string, resource: string): string | undefined {
  let raw: string;
  const m = ABSOLUTE_URL.exec(resource);
  if (m) {
    const hostPart = resource.slice(resource.indexOf('//') + 2).split('/', 1)[0]!.replace(/^[^@]*@/, '').toLowerCase();
    const host = (req.headers.host ?? '').toLowerCase();
    if (host !== '' && hostPart !== host) return undefined;
    raw = m[1] || '/';
  } else if (resource.startsWith('/')) {
    raw = resource.split(/[?#]/, 1)[0]!;
  } else {
    return undefined;
  }
  try {
    return resolveFilesTarget(raw, uid)?.path;
  } catch {
    return undefined;
  }
}

async function stateOf(app: App, uid: string, path: string | undefined): Promise<IfResourceState> {
  if (path === undefined) return NO_STATE;
  const node = await app.files.tryStat(uid, path).catch(() => undefined);
  if (!node) return NO_STATE;
  const locks = await app.locks.covering(uid, path);
  return { etag: `"${node.etag}"`, hasLock: (t) => locks.some((l) => l.token === t) };
}

async function evaluate(app: App, req: IncomingMessage, uid: string, h: IfHeader, fallbackPath: string): Promise<void> {
  const own = requestPath(req, uid) ?? fallbackPath;
  const ok = await evaluateIfHeader(h, (resource) => stateOf(app, uid, resource === null ? own : taggedPath(req, uid, resource)));
  if (!ok) throw new PreconditionFailedError('The If header does not match the resource state');
}

/**
 * Evaluates the request's `If` header against `path` (the request URI; tagged lists against the
 * resources they name). No lock requirement.
 * @throws PreconditionFailedError (412) when it does not hold; ValidationError (400) when malformed.
 */
export async function evaluateIf(app: App, req: IncomingMessage, uid: string, path: string): Promise<void> {
  const h = requestIfHeader(req);
  if (h) await evaluate(app, req, uid, h, path);
}

/**
 * Evaluates the request's `If` header with tagged resources named as `viewUid` sees them (their
 * own tree and the received shares mounted in it), and untagged lists against `self` (where the
 * request URI really lives). For COPY/MOVE between two owners' trees.
 * @throws PreconditionFailedError (412) when it does not hold; ValidationError (400) when malformed.
 */
export async function evaluateIfInView(app: App, req: IncomingMessage, viewUid: string, self: { uid: string; path: string }): Promise<void> {
  const h = requestIfHeader(req);
  if (!h) return;
  const ok = await evaluateIfHeader(h, async (resource) => {
    if (resource === null) return stateOf(app, self.uid, self.path);
    const p = taggedPath(req, viewUid, resource);
    if (p === undefined) return NO_STATE;
    const real = await app.shareResolver.resolve(viewUid, p).catch(() => undefined);
    return real ? stateOf(app, real.owner, real.path) : NO_STATE;
  });
  if (!ok) throw new PreconditionFailedError('The If header does not match the resource state');
}

/**
 * Checks that the request may change `targets` (the first one is taken as the request URI when
 * the URL is not in the files tree): the `If` header must hold (412), and every lock touching a
 * target — on it, depth-infinity on an ancestor, for depth infinity below it, and a depth-0 lock
 * on the parent when the target is created — must have its token submitted (423). Shared locks
 * on the same root need one of their tokens.
 * @throws PreconditionFailedError (412); LockedError (423); ValidationError (400) for a malformed If.
 */
export async function assertWritable(app: App, req: IncomingMessage, uid: string, targets: { path: string; depth: 0 | 'infinity' }[]): Promise<void> {
  const h = requestIfHeader(req);
  if (h) await evaluate(app, req, uid, h, targets[0]?.path ?? '');
  await assertTokensSubmitted(app, req, uid, targets);
}

/**
 * The lock half of `assertWritable` without evaluating the `If` conditions: every lock of `uid`'s
 * tree touching a target must have a token in the request's `If` header. For the second tree of a
 * COPY/MOVE between two owners (the conditions are evaluated against the request URI's tree).
 * @throws LockedError (423); ValidationError (400) for a malformed If.
 */
export async function assertTokensSubmitted(app: App, req: IncomingMessage, uid: string, targets: { path: string; depth: 0 | 'infinity' }[]): Promise<void> {
  const h = requestIfHeader(req);
  const submitted = h ? submittedTokens(h) : new Set<string>();
  const active = await app.locks.active(uid);
  if (active.length === 0) return;
  for (const t of targets) {
    const locks: Lock[] = active.filter((l) => lockCovers(l, t.path) || (t.depth === 'infinity' && isSameOrBelow(l.path, t.path)));
    if (t.path !== '') {
      const parent = parentPath(t.path);
      const parentLocks = active.filter((l) => l.depth === 0 && l.path === parent);
      if (parentLocks.length > 0 && !(await app.files.tryStat(uid, t.path).catch(() => undefined))) locks.push(...parentLocks);
    }
    const groups = new Map<string, Lock[]>();
    for (const l of locks) {
      const key = l.scope === 'shared' ? `s:${l.path}` : `x:${l.token}`;
      const g = groups.get(key) ?? [];
      g.push(l);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      if (!g.some((l) => submitted.has(l.token))) throw new LockedError(`The resource is locked`);
    }
  }
}
