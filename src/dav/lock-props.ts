/**
 * DAV lock properties: `d:lockdiscovery` (active locks covering a resource) and `d:supportedlock`.
 * Output uses the `d:` prefix, which every DAV answer binds to `DAV:`.
 */
import type { App } from '../app.ts';
import type { Lock } from '../files/lock-service.ts';
import { escapeXml } from './xml-writer.ts';
import { filesHrefBase, href } from './dav-target.ts';

/** One `<d:activelock>` element. `now` in seconds. */
export function activeLockXml(lock: Lock, lockRootHref: string, now = Math.floor(Date.now() / 1000)): string {
  const remaining = Math.max(0, lock.expiresAt - now);
  return '<d:activelock>'
    + '<d:locktype><d:write/></d:locktype>'
    + `<d:lockscope><d:${lock.scope}/></d:lockscope>`
    + `<d:depth>${lock.depth === 0 ? '0' : 'infinity'}</d:depth>`
    + (lock.ownerXml !== '' ? `<d:owner>${lock.ownerXml}</d:owner>` : '')
    + `<d:timeout>Second-${remaining}</d:timeout>`
    + `<d:locktoken><d:href>${escapeXml(lock.token)}</d:href></d:locktoken>`
    + `<d:lockroot><d:href>${escapeXml(lockRootHref)}</d:href></d:lockroot>`
    + '</d:activelock>';
}

/** Href of a lock's root (collections get a trailing slash). */
export async function lockRootHref(app: App, lock: Lock, hrefBase: string): Promise<string> {
  const node = await app.files.tryStat(lock.owner, lock.path).catch(() => undefined);
  return href({ hrefBase }, lock.path, lock.path === '' || node?.kind === 'dir');
}

/**
 * The `<d:lockdiscovery>` element for the active locks covering `path` in `uid`'s tree (empty
 * element when there are none). `hrefBase` defaults to `/remote.php/dav/files/<uid>`.
 */
export async function lockDiscoveryXml(app: App, uid: string, path: string, hrefBase = filesHrefBase(uid)): Promise<string> {
  const locks = await app.locks.covering(uid, path);
  if (locks.length === 0) return '<d:lockdiscovery/>';
  let out = '<d:lockdiscovery>';
  for (const l of locks) out += activeLockXml(l, await lockRootHref(app, l, hrefBase));
  return `${out}</d:lockdiscovery>`;
}

/** The `<d:supportedlock>` element: exclusive and shared write locks. */
export function supportedLockXml(): string {
  return '<d:supportedlock>'
    + '<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>'
    + '<d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>'
    + '</d:supportedlock>';
}
