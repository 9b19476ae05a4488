/**
 * The WebDAV `If` request header (RFC 4918 §10.4): a pure parser and evaluator.
 *
 *   If = ( 1*No-tag-list | 1*Tagged-list )
 *   No-tag-list = List ;  Tagged-list = Resource-Tag 1*List
 *   List = "(" 1*Condition ")" ;  Condition = ["Not"] ( State-token | "[" entity-tag "]" )
 *
 * Lists are ORed, the conditions inside a list are ANDed. Untagged lists apply to the request
 * URI; tagged lists apply to the resource they name. Knows nothing about HTTP or storage: the
 * caller supplies the state of each resource through a callback.
 */
import { ValidationError } from '../errors.ts';

export type IfCondition =
  | { readonly not: boolean; readonly kind: 'token'; readonly token: string }
  | { readonly not: boolean; readonly kind: 'etag'; readonly etag: string };

/** One list: its conditions are ANDed. */
export type IfList = readonly IfCondition[];

/** Lists that apply to one resource (`resource` null = the request URI). */
export interface IfGroup {
  readonly resource: string | null;
  readonly lists: readonly IfList[];
}

export interface IfHeader {
  /** True when the header uses Resource-Tags (then every group has a resource). */
  readonly tagged: boolean;
  readonly groups: readonly IfGroup[];
}

/** What the evaluator needs to know about one resource. */
export interface IfResourceState {
  /** Current entity tag, quoted as sent in ETag headers (e.g. `"abc"`), or null when the resource does not exist. */
  readonly etag: string | null;
  /** True when `token` is the token of an active lock that covers this resource. */
  hasLock(token: string): boolean;
}

const MAX_HEADER = 16 * 1024;

/**
 * Parses an If header value. Commas between productions (from joined duplicate headers) are
 * tolerated as whitespace.
 * @throws ValidationError when the value does not follow the grammar (→ 400).
 */
export function parseIfHeader(value: string): IfHeader {
  if (value.length > MAX_HEADER) throw new ValidationError('If header too long');
  let i = 0;
  const n = value.length;
  const skipWs = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t' || value[i] === ',' || value[i] === '\r' || value[i] === '\n')) i++;
  };
  const readCoded = (): string => {
    // at '<'
    const end = value.indexOf('>', i + 1);
    if (end < 0) throw new ValidationError('If header: unterminated <…>');
    const s = value.slice(i + 1, end);
    if (s.length === 0 || /[\s<]/.test(s)) throw new ValidationError('If header: invalid Coded-URL');
    i = end + 1;
    return s;
  };
  const readList = (): IfList => {
    // at '('
    i++;
    const conds: IfCondition[] = [];
    for (;;) {
      skipWs();
      if (i >= n) throw new ValidationError('If header: unterminated list');
      if (value[i] === ')') { i++; break; }
      let not = false;
      if (value.startsWith('Not', i) || value.startsWith('not', i) || value.startsWith('NOT', i)) {
        not = true;
        i += 3;
        skipWs();
      }
      const c = value[i];
      if (c === '<') {
        conds.push({ not, kind: 'token', token: readCoded() });
      } else if (c === '[') {
        const end = value.indexOf(']', i + 1);
        if (end < 0) throw new ValidationError('If header: unterminated [etag]');
        const etag = value.slice(i + 1, end).trim();
        if (!/^(W\/)?"[^"]*"$/.test(etag)) throw new ValidationError('If header: invalid entity-tag');
        conds.push({ not, kind: 'etag', etag });
        i = end + 1;
      } else {
        throw new ValidationError('If header: expected a state token or entity tag');
      }
    }
    if (conds.length === 0) throw new ValidationError('If header: empty list');
    return conds;
  };

  skipWs();
  if (i >= n) throw new ValidationError('If header is empty');
  const tagged = value[i] === '<';
  const groups: { resource: string | null; lists: IfList[] }[] = [];
  while (i < n) {
    skipWs();
    if (i >= n) break;
    if (value[i] === '<') {
      if (!tagged) throw new ValidationError('If header mixes tagged and untagged lists');
      const resource = readCoded();
      const group = { resource, lists: [] as IfList[] };
      skipWs();
      while (i < n && value[i] === '(') {
        group.lists.push(readList());
        skipWs();
      }
      if (group.lists.length === 0) throw new ValidationError('If header: resource tag without a list');
      groups.push(group);
    } else if (value[i] === '(') {
      if (tagged) throw new ValidationError('If header mixes tagged and untagged lists');
      if (groups.length === 0) groups.push({ resource: null, lists: [] });
      groups[0].lists.push(readList());
    } else {
      throw new ValidationError('If header: unexpected character');
    }
  }
  return { tagged, groups };
}

/** Every state token named in the header outside a `Not` (the tokens the client "submits"). */
export function submittedTokens(h: IfHeader): Set<string> {
  const out = new Set<string>();
  for (const g of h.groups) for (const l of g.lists) for (const c of l) if (c.kind === 'token' && !c.not) out.add(c.token);
  return out;
}

/** Strong/weak-insensitive comparison of two entity tags (quotes and `W/` ignored). */
export function etagsMatch(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return norm(a) === norm(b);
}

function conditionHolds(c: IfCondition, state: IfResourceState): boolean {
  let v: boolean;
  if (c.kind === 'token') v = state.etag !== null && state.hasLock(c.token);
  else v = state.etag !== null && etagsMatch(c.etag, state.etag);
  return c.not ? !v : v;
}

/** True when at least one list holds for the resource (a list holds when all its conditions do). */
export function listsHold(lists: readonly IfList[], state: IfResourceState): boolean {
  return lists.some((l) => l.every((c) => conditionHolds(c, state)));
}

/**
 * Evaluates the header: every group (the request URI's untagged lists, or each tagged resource)
 * must have at least one list that holds. `resolve(null)` is the request URI; `resolve(url)` a
 * tagged resource (resolve unknown or foreign URLs to a state with `etag: null`).
 * @returns false when the header does not hold (→ 412).
 */
export async function evaluateIfHeader(h: IfHeader, resolve: (resource: string | null) => Promise<IfResourceState>): Promise<boolean> {
  // Merge groups naming the same resource: their lists are alternatives for that resource.
  const byResource = new Map<string | null, IfList[]>();
  for (const g of h.groups) {
    const arr = byResource.get(g.resource) ?? [];
    arr.push(...g.lists);
    byResource.set(g.resource, arr);
  }
  for (const [resource, lists] of byResource) {
    const state = await resolve(resource);
    if (!listsHold(lists, state)) return false;
  }
  return true;
}
