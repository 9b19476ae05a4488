import type { DeadProperty, FileNode, Quota } from '../files/types.ts';
import { escapeXml, propElement, propstat, qname, DAV_NS, NC_NS, OC_NS } from './xml-writer.ts';
import { httpDate, ocId } from './http-util.ts';
import { previewable } from '../previews/image-formats.ts';

/** What a request runs with while rendering properties (per request, computed once). */
export interface PropContext {
  readonly instanceId: string;
  readonly ownerId: string;
  readonly ownerDisplayName: string;
  /** The user's quota, when a quota property was asked for. */
  quota?: Quota;
  /** The whole `<d:supportedlock>` element. */
  supportedLock: string;
}

/** Per-node values looked up before rendering (only when asked for). */
export interface NodeExtras {
  /** The whole `<d:lockdiscovery>` element. */
  lockDiscovery?: string;
  /** `oc:permissions` letters when the node is seen through a share (else the own-tree letters). */
  permissions?: string;
  /** Share types of the node (owner side): rendered as `<oc:share-type>` items. */
  shareTypes?: readonly number[];
  /** Owner of the node when it is not the requesting user (received shares). */
  ownerId?: string;
  /** `nc:mount-type` (e.g. 'shared'). */
  mountType?: string;
}

/** A live (computed) property. `render` returns the element's inner XML, or undefined for "404 on this node". */
export interface LiveProp {
  readonly ns: string;
  readonly local: string;
  /** Returned by allprop. */
  readonly inAllprop: boolean;
  /** PROPPATCH may change it. */
  readonly settable: boolean;
  /** `render` returns the complete element rather than its content. */
  readonly whole?: boolean;
  /** Pre-built tags: `<p:x>`, `</p:x>`, `<p:x/>`. */
  readonly tags: Tags;
  render(node: FileNode, pc: PropContext, extras: NodeExtras): string | undefined;
}

/** `{ns}local` (Clark notation): the key of a property. */
export function clark(ns: string, local: string): string {
  return `{${ns}}${local}`;
}

const FILE_PERMS = 'RGDNVW';
const DIR_PERMS = 'RGDNVCK';

/** Pre-built element tags of a property name. */
export interface Tags { readonly open: string; readonly close: string; readonly empty: string }

function tagsOf(ns: string, local: string): Tags {
  const q = qname(ns, local);
  return { open: `<${q.open}>`, close: `</${q.close}>`, empty: `<${q.open}/>` };
}

function def(ns: string, local: string, inAllprop: boolean, render: LiveProp['render'], settable = false): LiveProp {
  return { ns, local, inAllprop, settable, render, tags: tagsOf(ns, local) };
}

const DAY = 86_400;
/** Up to this instant (year 10000) the fast path's fixed layout holds. */
const MAX_FAST_DATE = 253_402_300_800;
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
/** `Wed, 15 Nov 2023 ` by day number: a listing formats one date per entry, mostly of few days. */
const dayPrefixes = new Map<number, string>();

/**
 * `httpDate(seconds)` without a Date per call: the day part is cached, the time is assembled from
 * two-digit strings (the same text as `new Date(ms).toUTCString()`).
 */
export function lastModified(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds >= MAX_FAST_DATE) return httpDate(seconds);
  const day = Math.floor(seconds / DAY);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4096) dayPrefixes.clear();
    const full = httpDate(day * DAY); // '… 00:00:00 GMT'
    prefix = full.slice(0, full.length - 12);
    dayPrefixes.set(day, prefix);
  }
  const t = seconds - day * DAY;
  return `${prefix}${TWO_DIGITS[Math.floor(t / 3600)]}:${TWO_DIGITS[Math.floor(t / 60) % 60]}:${TWO_DIGITS[t % 60]} GMT`;
}

function firstChecksumsXml(checksum: string | null): string {
  return checksum ? `<oc:checksum>${escapeXml(checksum)}</oc:checksum>` : '';
}

/** The live property table (protocol reference §2). */
export const LIVE_PROPS: readonly LiveProp[] = [
  def(DAV_NS, 'resourcetype', true, (n) => (n.kind === 'dir' ? '<d:collection/>' : '')),
  def(DAV_NS, 'getetag', true, (n) => `&quot;${escapeXml(n.etag)}&quot;`),
  def(DAV_NS, 'getlastmodified', true, (n) => lastModified(n.mtime), true),
  def(DAV_NS, 'getcontentlength', true, (n) => (n.kind === 'file' ? String(n.size) : undefined)),
  def(DAV_NS, 'getcontenttype', true, (n) => (n.kind === 'file' ? escapeXml(n.mimetype) : undefined)),
  def(DAV_NS, 'displayname', false, (n, pc) => escapeXml(n.path === '' ? pc.ownerId : n.name)),
  def(DAV_NS, 'quota-used-bytes', false, (n, pc) => (n.kind === 'dir' ? String(n.size) : undefined)),
  def(DAV_NS, 'quota-available-bytes', false, (n, pc) => {
    if (n.kind !== 'dir') return undefined;
    const q = pc.quota;
    if (!q) return '-2';
    return q.total === null ? '-3' : String(Math.max(0, q.total - q.used));
  }),
  { ...def(DAV_NS, 'lockdiscovery', true, (_n, _pc, x) => x.lockDiscovery ?? '<d:lockdiscovery/>'), whole: true },
  { ...def(DAV_NS, 'supportedlock', true, (_n, pc) => pc.supportedLock), whole: true },
  def(OC_NS, 'id', false, (n, pc) => ocId(n.fileId, pc.instanceId)),
  def(OC_NS, 'fileid', false, (n) => String(n.fileId)),
  def(OC_NS, 'permissions', false, (n, _pc, x) => x.permissions ?? (n.kind === 'dir' ? DIR_PERMS : FILE_PERMS)),
  def(OC_NS, 'size', false, (n) => String(n.size)),
  def(OC_NS, 'checksums', false, (n) => (n.kind === 'file' ? firstChecksumsXml(n.checksum) : undefined)),
  def(OC_NS, 'share-types', false, (_n, _pc, x) => (x.shareTypes ?? []).map((t) => `<oc:share-type>${t}</oc:share-type>`).join('')),
  def(OC_NS, 'downloadURL', false, () => ''),
  def(OC_NS, 'dDC', false, () => ''),
  def(OC_NS, 'data-fingerprint', false, () => ''),
  def(OC_NS, 'favorite', false, (n) => (n.favorite ? '1' : '0'), true),
  def(OC_NS, 'owner-id', false, (_n, pc, x) => escapeXml(x.ownerId ?? pc.ownerId)),
  def(OC_NS, 'owner-display-name', false, (_n, pc, x) => escapeXml(x.ownerId ?? pc.ownerDisplayName)),
  def(NC_NS, 'has-preview', false, (n) => (n.kind === 'file' && previewable(n.mimetype, n.size) ? 'true' : 'false')),
  def(NC_NS, 'is-encrypted', false, () => '0'),
  def(NC_NS, 'mount-type', false, (_n, _pc, x) => x.mountType ?? ''),
];

const LIVE_BY_KEY = new Map(LIVE_PROPS.map((p) => [clark(p.ns, p.local), p]));

/** The live property of that name, if any. */
export function liveProp(ns: string, local: string): LiveProp | undefined {
  return LIVE_BY_KEY.get(clark(ns, local));
}

/** PROPPATCH may set `{DAV:}lastmodified` (rclone) as well as getlastmodified. */
export function isMtimeProp(ns: string, local: string): boolean {
  return ns === DAV_NS && (local === 'lastmodified' || local === 'getlastmodified');
}

/** A requested property name. */
export interface PropName { readonly ns: string; readonly local: string; readonly live?: LiveProp; readonly tags: Tags }

/** A requested property name, resolved against the live table once per request. */
export function propName(ns: string, local: string): PropName {
  const live = liveProp(ns, local);
  return { ns, local, live, tags: live?.tags ?? tagsOf(ns, local) };
}

/** What a PROPFIND asked for. */
export type PropRequest =
  | { readonly kind: 'prop'; readonly names: readonly PropName[] }
  | { readonly kind: 'allprop'; readonly include: readonly PropName[] }
  | { readonly kind: 'propname' };

/** Whether rendering needs the nodes' dead properties. */
export function needsDeadProps(r: PropRequest): boolean {
  return r.kind !== 'prop' || r.names.some((n) => !n.live);
}

/** Whether rendering needs the lock discovery of each node. */
export function needsLockDiscovery(r: PropRequest): boolean {
  const isLd = (n: PropName) => n.ns === DAV_NS && n.local === 'lockdiscovery';
  if (r.kind === 'allprop') return true;
  if (r.kind === 'prop') return r.names.some(isLd);
  return false;
}

/** Whether rendering needs the user's quota. */
export function needsQuota(r: PropRequest): boolean {
  return r.kind === 'prop' && r.names.some((n) => n.ns === DAV_NS && n.local.startsWith('quota-'));
}

function liveElement(p: LiveProp, v: string): string {
  if (p.whole) return v;
  return v === '' ? p.tags.empty : p.tags.open + v + p.tags.close;
}

function emptyElement(ns: string, local: string): string {
  return propElement(ns, local, '');
}

/**
 * The propstats of one node for a request (`brief` drops the 404 propstat).
 * Dead properties are given as the node's list (or undefined when not loaded).
 */
export function renderPropstats(node: FileNode, req: PropRequest, pc: PropContext, extras: NodeExtras,
  dead: readonly DeadProperty[] | undefined, brief = false): string {
  let found = '';
  let missing = '';
  if (req.kind === 'propname') {
    for (const p of LIVE_PROPS) if (p.render(node, pc, extras) !== undefined) found += emptyElement(p.ns, p.local);
    for (const d of dead ?? []) found += emptyElement(d.namespace, d.name);
    return propstat(found, 200);
  }
  if (req.kind === 'allprop') {
    const seen = new Set<string>();
    for (const p of LIVE_PROPS) {
      if (!p.inAllprop) continue;
      const v = p.render(node, pc, extras);
      if (v !== undefined) found += liveElement(p, v);
      seen.add(clark(p.ns, p.local));
    }
    for (const d of dead ?? []) {
      found += propElement(d.namespace, d.name, d.value);
      seen.add(clark(d.namespace, d.name));
    }
    for (const n of req.include) {
      const k = clark(n.ns, n.local);
      if (seen.has(k) || !n.live) continue;
      const v = n.live.render(node, pc, extras);
      if (v !== undefined) found += liveElement(n.live, v);
    }
    return propstat(found, 200);
  }
  let deadMap: Map<string, string> | undefined;
  for (const n of req.names) {
    if (n.live) {
      const v = n.live.render(node, pc, extras);
      if (v === undefined) missing += n.tags.empty;
      else found += liveElement(n.live, v);
      continue;
    }
    if (!deadMap) deadMap = new Map((dead ?? []).map((d) => [clark(d.namespace, d.name), d.value]));
    const v = deadMap.get(clark(n.ns, n.local));
    if (v === undefined) missing += n.tags.empty;
    else found += v === '' ? n.tags.empty : n.tags.open + v + n.tags.close;
  }
  let out = '';
  if (found !== '' || missing === '' || brief) out += propstat(found, 200);
  if (missing !== '' && !brief) out += propstat(missing, 404);
  return out;
}
