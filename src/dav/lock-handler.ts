/**
 * LOCK and UNLOCK (RFC 4918 §9.10, §9.11) on a user's files tree.
 * Errors are thrown as typed AppErrors for the router to map, except UNLOCK's 409 which carries
 * the `lock-token-matches-request-uri` precondition element.
 */
import type { Actor } from '../actor.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpContext } from '../http/context.ts';
import { ConflictError, PreconditionFailedError, ValidationError } from '../errors.ts';
import { parseTimeout } from '../files/lock-service.ts';
import { DAV_NS, davErrorBody } from './xml-writer.ts';
import { child, parseXml, readBody } from './xml-reader.ts';
import { href, type DavTarget } from './dav-target.ts';
import { assertWritable, evaluateIf, requestIfHeader } from './lock-guard.ts';
import { submittedTokens } from './if-header.ts';
import { activeLockXml } from './lock-props.ts';

const MAX_LOCK_BODY = 64 * 1024;

/** What a `<D:lockinfo>` body asks for. */
export interface LockInfo {
  scope: 'exclusive' | 'shared';
  /** Inner XML of `<D:owner>` ('' when absent). */
  ownerXml: string;
}

/**
 * Parses a LOCK request body.
 * @throws ValidationError when malformed or not a write lock request (→ 400).
 */
export function parseLockInfo(body: string): LockInfo {
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'lockinfo') throw new ValidationError('LOCK body must be a DAV:lockinfo');
  const scopeEl = child(root, DAV_NS, 'lockscope');
  const typeEl = child(root, DAV_NS, 'locktype');
  if (!scopeEl || !typeEl) throw new ValidationError('lockinfo needs lockscope and locktype');
  let scope: LockInfo['scope'];
  if (child(scopeEl, DAV_NS, 'exclusive')) scope = 'exclusive';
  else if (child(scopeEl, DAV_NS, 'shared')) scope = 'shared';
  else throw new ValidationError('Unknown lockscope');
  if (!child(typeEl, DAV_NS, 'write')) throw new ValidationError('Only write locks are supported');
  const ownerEl = child(root, DAV_NS, 'owner');
  return { scope, ownerXml: ownerEl ? ownerEl.innerXml() : '' };
}

function parseDepth(req: IncomingMessage): 0 | 'infinity' {
  const d = req.headers.depth;
  if (typeof d !== 'string' && d !== undefined) throw new ValidationError('Invalid Depth header');
  if (d === undefined || /^infinity$/i.test(d)) return 'infinity';
  if (d === '0') return 0;
  throw new ValidationError('LOCK Depth must be 0 or infinity');
}

function sendLock(res: ServerResponse, status: number, activeLock: string, token?: string): void {
  const body = '<?xml version="1.0" encoding="utf-8"?>\n'
    + `<d:prop xmlns:d="DAV:"><d:lockdiscovery>${activeLock}</d:lockdiscovery></d:prop>\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/xml; charset=utf-8');
  if (token) res.setHeader('Lock-Token', `<${token}>`);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * LOCK: creates a lock (body with `lockinfo`) or refreshes one (empty body, token in `If`).
 * A lock on an unmapped URL creates an empty file and answers 201.
 * @throws ValidationError (400), PreconditionFailedError (412: If false, nothing to refresh),
 *   LockedError (423: conflicting lock), ConflictError (409: parent missing), TooLargeError.
 */
export async function handleLock(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, target: DavTarget, actor: Actor): Promise<void> {
  const { app } = ctx;
  const { uid, path } = target;
  const depth = parseDepth(req);
  const timeout = parseTimeout(typeof req.headers.timeout === 'string' ? req.headers.timeout : undefined);
  const body = await readBody(req, MAX_LOCK_BODY);

  if (body.trim() === '') {
    // Refresh: the token comes in the If header; it may name a lock on an ancestor (depth infinity).
    const h = requestIfHeader(req);
    if (!h) throw new ValidationError('LOCK refresh needs an If header with the lock token');
    await evaluateIf(app, req, uid, path);
    for (const token of submittedTokens(h)) {
      try {
        const lock = await app.locks.refresh(uid, path, token, timeout);
        const root = await app.files.tryStat(uid, lock.path).catch(() => undefined);
        sendLock(res, 200, activeLockXml(lock, href(target, lock.path, lock.path === '' || root?.kind === 'dir')));
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
    }
    throw new PreconditionFailedError('No lock matching the submitted token covers this resource');
  }

  const info = parseLockInfo(body);
  const existing = await app.files.tryStat(uid, path);
  if (existing) await evaluateIf(app, req, uid, path);
  else await assertWritable(app, req, uid, [{ path, depth: 0 }]); // creating a member of a possibly locked folder
  const lock = await app.locks.lock(uid, path, { scope: info.scope, depth, ownerXml: info.ownerXml, timeoutSeconds: timeout });
  let created = false;
  if (!existing) {
    try {
      // If-None-Match: * — a file created concurrently is kept (and is now locked), never emptied.
      await app.files.writeFile(actor, uid, path, Readable.from([]), { expectedSize: 0, ifNoneMatch: ['*'] });
      created = true;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) {
        await app.locks.unlock(uid, path, lock.token).catch(() => {});
        throw err;
      }
    }
  }
  const isDir = path === '' || existing?.kind === 'dir';
  sendLock(res, created ? 201 : 200, activeLockXml(lock, href(target, path, isDir)), lock.token);
}

/**
 * UNLOCK: removes the lock named by the `Lock-Token` header, which must cover the request URI.
 * Answers 204; 409 with `lock-token-matches-request-uri` for an unknown or foreign token.
 * @throws ValidationError (400) for a missing or malformed Lock-Token header.
 */
export async function handleUnlock(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, target: DavTarget): Promise<void> {
  const raw = req.headers['lock-token'];
  const m = typeof raw === 'string' ? /^\s*<([^<>\s]+)>\s*$/.exec(raw) : null;
  if (!m) throw new ValidationError('UNLOCK needs a Lock-Token header');
  req.resume();
  try {
    await ctx.app.locks.unlock(target.uid, target.path, m[1]!);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const body = davErrorBody('Sabre\\DAV\\Exception\\Conflict', 'The lock token does not match a lock on this resource', '<d:lock-token-matches-request-uri/>');
    res.statusCode = 409;
    res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
    return;
  }
  res.statusCode = 204;
  res.end();
}
