import type { IncomingMessage, ServerResponse } from 'node:http';
import { DavStatusError } from './dav-errors.ts';
import { sendEmpty } from './dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { drain, parseDepth } from './http-util.ts';
import type { PropRequest } from './properties.ts';
import { parsePropfind } from './propfind.ts';
import { readBody } from './xml-reader.ts';
import { DAV_NS, MultistatusWriter, propstat, qname, responseWithPropstats } from './xml-writer.ts';

/** A property of a virtual resource (versions, trash items): its inner XML, already escaped. */
export interface VirtualProp {
  readonly ns: string;
  readonly local: string;
  readonly inner: string;
}

/**
 * The `<d:response>` of a virtual resource: allprop gives every property, a `prop` request those
 * asked for (200) and 404 for the others, propname the names.
 */
export function virtualResponse(href: string, props: readonly VirtualProp[], req: PropRequest): string {
  return virtualRenderer<void>(props.map((p) => ({ ns: p.ns, local: p.local, value: () => p.inner })), req)(href, undefined);
}

/** A property of a kind of virtual resource: its inner XML for `x` (escaped), or undefined when `x` has none. */
export interface VirtualPropDef<T> {
  readonly ns: string;
  readonly local: string;
  readonly value: (x: T) => string | undefined;
}

/**
 * The responses of many resources of one kind (a listing of thousands): the request is matched
 * against `defs` once, so each resource only computes the values asked for, in `defs` order.
 */
export function virtualRenderer<T>(defs: readonly VirtualPropDef<T>[], req: PropRequest): (href: string, x: T) => string {
  const element = (d: { ns: string; local: string }) => {
    const q = qname(d.ns, d.local);
    return { empty: `<${q.open}/>`, open: `<${q.open}>`, close: `</${q.close}>` };
  };
  const tagged = defs.map((d) => ({ value: d.value, ...element(d) }));
  if (req.kind === 'propname' || req.kind === 'allprop') {
    const names = req.kind === 'propname';
    return (href, x) => {
      let props = '';
      for (const d of tagged) {
        const v = d.value(x);
        if (v === undefined) continue;
        props += names || v === '' ? d.empty : d.open + v + d.close;
      }
      return responseWithPropstats(href, propstat(props, 200));
    };
  }
  const byKey = new Map(tagged.map((d, i) => [`{${defs[i]!.ns}}${defs[i]!.local}`, d]));
  const asked = req.names.map((n) => ({ def: byKey.get(`{${n.ns}}${n.local}`), empty: element(n).empty }));
  return (href, x) => {
    let found = '';
    let missing = '';
    for (const a of asked) {
      const v = a.def?.value(x);
      if (v === undefined) missing += a.empty;
      else found += v === '' ? a.def!.empty : a.def!.open + v + a.def!.close;
    }
    return responseWithPropstats(href, (found ? propstat(found, 200) : '') + (missing ? propstat(missing, 404) : '') || propstat('', 200));
  };
}

/** `<d:resourcetype>` inner XML of a collection. */
export const COLLECTION = '<d:collection/>';

const ALLOW_COLLECTION = 'OPTIONS, PROPFIND';

/** OPTIONS and PROPFIND of a fixed collection listing `children` (hrefs); other methods 405. */
export async function virtualCollection(req: IncomingMessage, res: ServerResponse, href: string, children: string[]): Promise<void> {
  const method = req.method ?? '';
  if (method === 'OPTIONS') { drain(req); return sendEmpty(res, 200, { Allow: ALLOW_COLLECTION, DAV: '1, 3' }); }
  if (method !== 'PROPFIND') { drain(req); throw methodNotAllowed(method, ALLOW_COLLECTION); }
  const depth = parseDepth(req) ?? 1;
  const request = parsePropfind(await readBody(req, XML_BODY_BYTES));
  const col = [{ ns: DAV_NS, local: 'resourcetype', inner: COLLECTION }];
  const w = new MultistatusWriter(res);
  w.start();
  await w.write(virtualResponse(href, col, request));
  if (depth !== 0) for (const c of children) await w.write(virtualResponse(c, col, request));
  w.end();
}

/** 405 with the methods the resource allows. */
export function methodNotAllowed(method: string, allow: string): DavStatusError {
  return new DavStatusError(405, `${method} is not allowed here`, 'Sabre\\DAV\\Exception\\MethodNotAllowed', '', { Allow: allow });
}
