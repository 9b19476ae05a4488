import { QuotaExceededError, ValidationError } from '../errors.ts';
import type { PropPatchOp } from '../files/types.ts';
import { parseMtimeOrDate } from '../files/mtime.ts';
import type { DavRequest } from './dav-request.ts';
import { XML_BODY_BYTES } from '../http/limits.ts';
import { href } from './dav-target.ts';
import { assertWritable } from './lock-adapter.ts';
import { clark, isMtimeProp, liveProp } from './properties.ts';
import { parseXml, readBody, type XmlElement } from './xml-reader.ts';
import { DAV_NS, MultistatusWriter, OC_NS, propElement, propstat, responseWithPropstats } from './xml-writer.ts';

/** One set/remove instruction of a PROPPATCH, in document order. */
export interface PatchInstruction {
  readonly op: 'set' | 'remove';
  readonly el: XmlElement;
}

/**
 * Parses a DAV:propertyupdate body into its instructions, in document order.
 * @throws ValidationError when malformed, empty, or not a propertyupdate.
 */
export function parsePropertyUpdate(body: string): PatchInstruction[] {
  const root = parseXml(body);
  if (root.ns !== DAV_NS || root.local !== 'propertyupdate') throw new ValidationError('Expected a DAV:propertyupdate body');
  const out: PatchInstruction[] = [];
  for (const c of root.children) {
    if (c.ns !== DAV_NS || (c.local !== 'set' && c.local !== 'remove')) continue;
    for (const prop of c.children) {
      if (prop.ns !== DAV_NS || prop.local !== 'prop') continue;
      for (const el of prop.children) out.push({ op: c.local, el });
    }
  }
  return out;
}

interface Outcome { ns: string; local: string; status: number }

/**
 * PROPPATCH: dead properties in document order (atomically), `d:lastmodified`/`d:getlastmodified`
 * set the mtime, `oc:favorite`; protected live properties fail with 403 and everything else with 424;
 * dead properties beyond the per-node bound (FilesService.properties.patch) fail with 507.
 * @throws NotFoundError, ValidationError, LockedError, PreconditionFailedError.
 */
export async function handleProppatch(d: DavRequest): Promise<void> {
  const { app, req, target } = d;
  const body = await readBody(req, XML_BODY_BYTES);
  const instructions = parsePropertyUpdate(body);
  const node = await app.files.stat(target.uid, target.path);
  await assertWritable(app, req, target.uid, [{ path: target.path, depth: 0 }]);

  const outcomes = new Map<string, Outcome>();
  const deadOps: PropPatchOp[] = [];
  let mtime: number | undefined;
  let favorite: boolean | undefined;
  let failed = false;
  for (const { op, el } of instructions) {
    const key = clark(el.ns, el.local);
    let status = 200;
    if (isMtimeProp(el.ns, el.local)) {
      if (op === 'remove') status = 403;
      else {
        // out of bounds or unparsable: this property fails (409) and so the whole PROPPATCH
        try { mtime = parseMtimeOrDate(el.text, 'lastmodified'); } catch (err) { if (!(err instanceof ValidationError)) throw err; status = 409; }
      }
    } else if (el.ns === OC_NS && el.local === 'favorite') {
      favorite = op === 'set' ? ['1', 'true'].includes(el.text.trim().toLowerCase()) : false;
    } else if (liveProp(el.ns, el.local)) {
      status = 403;
    } else if (op === 'set') {
      deadOps.push({ op: 'set', prop: { namespace: el.ns, name: el.local, value: el.innerXml() } });
    } else {
      deadOps.push({ op: 'remove', namespace: el.ns, name: el.local });
    }
    if (status !== 200) failed = true;
    const prev = outcomes.get(key);
    if (!prev || prev.status === 200) outcomes.set(key, { ns: el.ns, local: el.local, status });
  }

  if (!failed && deadOps.length > 0) {
    try {
      await app.files.properties.patch(node.fileId, deadOps);
    } catch (err) {
      if (!(err instanceof QuotaExceededError)) throw err;
      // RFC 4918 9.2.1: 507 for the properties that could not be recorded, 424 for the rest.
      failed = true;
      for (const op of deadOps) if (op.op === 'set') outcomes.set(clark(op.prop.namespace, op.prop.name), { ns: op.prop.namespace, local: op.prop.name, status: 507 });
    }
  }
  if (!failed) {
    if (mtime !== undefined) await app.files.setMtime(target.uid, target.path, mtime);
    if (favorite !== undefined) await app.files.setFavorite(target.uid, target.path, favorite);
  }
  const byStatus = new Map<number, string>();
  for (const o of outcomes.values()) {
    const status = failed && o.status === 200 ? 424 : o.status;
    byStatus.set(status, (byStatus.get(status) ?? '') + propElement(o.ns, o.local, ''));
  }
  let propstats = '';
  for (const [status, props] of byStatus) propstats += propstat(props, status);
  if (propstats === '') propstats = propstat('', 200);
  const w = new MultistatusWriter(d.res);
  w.start();
  await w.write(responseWithPropstats(href(target, node.path, node.kind === 'dir'), propstats));
  w.end();
}
