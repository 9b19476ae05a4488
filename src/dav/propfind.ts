import { ValidationError } from '../errors.ts';
import type { DeadProperty, FileNode } from '../files/types.ts';
import { DavStatusError } from './dav-errors.ts';
import type { DavRequest } from './dav-request.ts';
import { PROPFIND_INFINITY_ENTRIES, XML_BODY_BYTES } from '../http/limits.ts';
import { permissionLetters, presentMount, presentNode } from '../sharing/share-access.ts';
import { davPermissions } from '../sharing/share-permissions.ts';
import { encodeSegment, href } from './dav-target.ts';
import { header, parseDepth } from './http-util.ts';
import { evaluateIf, lockDiscoveryXml, supportedLockXml } from './lock-adapter.ts';
import {
  needsDeadProps, propName, needsLockDiscovery, needsQuota, renderPropstats,
  type NodeExtras, type PropContext, type PropName, type PropRequest,
} from './properties.ts';
import { parseXml, readBody, type XmlElement } from './xml-reader.ts';
import { DAV_NS, MultistatusWriter, responseWithPropstats } from './xml-writer.ts';

const DEAD_PROPS_BATCH = 1000;
const NO_EXTRAS: NodeExtras = Object.freeze({});

function names(el: XmlElement | undefined): PropName[] {
  return (el?.children ?? []).map((c) => propName(c.ns, c.local));
}

/**
 * Parses a PROPFIND body ('' = allprop).
 * @throws ValidationError when it is malformed or not a DAV:propfind.
 */
export function parsePropfind(body: string): PropRequest {
  if (body.trim() === '') return { kind: 'allprop', include: [] };
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'propfind') throw new ValidationError('Expected a DAV:propfind body');
  for (const c of root.children) {
    if (c.ns !== DAV_NS) continue;
    if (c.local === 'prop') return { kind: 'prop', names: names(c) };
    if (c.local === 'propname') return { kind: 'propname' };
    if (c.local === 'allprop') {
      const include = root.children.find((x) => x.ns === DAV_NS && x.local === 'include');
      return { kind: 'allprop', include: names(include) };
    }
  }
  return { kind: 'allprop', include: [] };
}

/** Whether the client asked for a minimal answer (no 404 propstats). */
function wantsBrief(d: DavRequest): boolean {
  const brief = header(d.req, 'brief');
  if (brief && brief.trim().toLowerCase() === 't') return true;
  return /\breturn=minimal\b/i.test(header(d.req, 'prefer') ?? '');
}

async function collect(d: DavRequest, depth: 0 | 1 | 'infinity'): Promise<FileNode[]> {
  const { app, target } = d;
  const self = await app.files.stat(target.uid, target.path);
  if (depth === 0 || self.kind !== 'dir') return [self];
  if (depth === 1) return [self, ...await app.files.children(target.uid, target.path)];
  const out: FileNode[] = [];
  for await (const n of app.files.walk(target.uid, target.path, Infinity)) {
    out.push(n);
    if (out.length > PROPFIND_INFINITY_ENTRIES) {
      throw new DavStatusError(403, `Depth: infinity is limited to ${PROPFIND_INFINITY_ENTRIES} entries`,
        'Sabre\\DAV\\Exception\\Forbidden', '<d:propfind-finite-depth/>');
    }
  }
  return out;
}

/**
 * PROPFIND: Depth 0/1 (missing = 1), infinity bounded; prop, propname, allprop; streamed 207.
 * @throws NotFoundError, ValidationError, PreconditionFailedError (If header), DavStatusError (403 finite depth).
 */
export async function handlePropfind(d: DavRequest): Promise<void> {
  const { app, req, target, user } = d;
  const depth = parseDepth(req) ?? 1;
  const body = await readBody(req, XML_BODY_BYTES);
  const request = parsePropfind(body);
  await evaluateIf(app, req, target.uid, target.path);
  let nodes = await collect(d, depth);
  // Received shares: a mounted node keeps its file id, etag and size, shown under the mount point.
  const extrasOf = new Map<number, NodeExtras>();
  const share = target.share;
  if (share) {
    nodes = nodes.map((n) => {
      const mountRoot = n.path === share.mountNodePath;
      extrasOf.set(n.fileId, { permissions: permissionLetters(n, share, mountRoot), ownerId: share.owner, mountType: 'shared' });
      return presentNode(n, share);
    });
  } else if (target.path === '' && depth !== 0 && nodes[0]?.kind === 'dir') {
    const mounts = await app.shareResolver.mountsOf(target.uid);
    if (mounts.length > 0) {
      const shown = mounts.map((m) => {
        extrasOf.set(m.node.fileId, {
          permissions: davPermissions(m.node.kind, m.permissions, { shared: true, mountRoot: true }), ownerId: m.owner, mountType: 'shared',
        });
        return presentMount(m, nodes[0]!.fileId);
      });
      const names = new Set(shown.map((m) => m.name));
      nodes = [nodes[0]!, ...nodes.slice(1).filter((n) => !(n.parentId === nodes[0]!.fileId && names.has(n.name))), ...shown];
    }
  }
  if (!share && request.kind === 'prop' && request.names.some((n) => n.local === 'share-types')) {
    const own = nodes.filter((n) => n.owner === target.uid).map((n) => n.fileId);
    for (const [id, types] of await app.shareResolver.shareTypesOf(target.uid, own)) {
      extrasOf.set(id, { ...extrasOf.get(id), shareTypes: types });
    }
  }

  const pc: PropContext = {
    instanceId: app.config.instanceid,
    ownerId: target.uid,
    ownerDisplayName: user.uid === target.uid ? user.displayName : target.uid,
    supportedLock: supportedLockXml(),
  };
  if (needsQuota(request)) pc.quota = await app.files.quota(target.uid);
  let dead: Map<number, DeadProperty[]> | undefined;
  if (needsDeadProps(request)) {
    // Batched so that huge folders stay under the database's bound-parameter limits.
    dead = new Map();
    for (let i = 0; i < nodes.length; i += DEAD_PROPS_BATCH) {
      const batch = await app.files.properties.of(nodes.slice(i, i + DEAD_PROPS_BATCH).map((n) => n.fileId));
      for (const [id, props] of batch) dead.set(id, props);
    }
  }
  // One query tells whether any lock exists; only then is each node's lockdiscovery looked up.
  const withLocks = needsLockDiscovery(request) && (await app.locks.active(target.uid)).length > 0;
  const brief = wantsBrief(d);

  // Members of the requested folder reuse its encoded href (Depth 1 is the hot path).
  const self = nodes[0]!;
  const selfHref = href(target, self.path, true);
  const hrefOf = (n: FileNode) => (n.parentId === self.fileId
    ? `${selfHref}${encodeSegment(n.name)}${n.kind === 'dir' ? '/' : ''}`
    : href(target, n.path, n.kind === 'dir'));
  const w = new MultistatusWriter(d.res);
  w.start();
  for (const n of nodes) {
    let extras: NodeExtras = extrasOf.get(n.fileId) ?? NO_EXTRAS; // renderers only read it
    if (withLocks) extras = { ...extras, lockDiscovery: await lockDiscoveryXml(app, target.uid, n.path, target.hrefBase) };
    const ps = renderPropstats(n, request, pc, extras, dead ? (dead.get(n.fileId) ?? []) : undefined, brief);
    const flushed = w.add(responseWithPropstats(hrefOf(n), ps));
    if (flushed) await flushed;
  }
  w.end();
}
