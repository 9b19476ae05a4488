import type { IncomingMessage } from 'node:http';
import { ValidationError } from '../errors.ts';
import { FORM_BODY_LIMIT, readSmallBody } from '../http/request-body.ts';

export { FORM_BODY_LIMIT, readSmallBody } from '../http/request-body.ts';

/**
 * Parameters of a request: the query string merged with an `application/x-www-form-urlencoded`
 * or JSON object body (body wins). Arrays in JSON become repeated values; `groups[]` keys keep
 * their brackets stripped.
 * @throws TooLargeError; ValidationError for a JSON body that is not an object
 */
export async function readParams(req: IncomingMessage, query: URLSearchParams, limit = FORM_BODY_LIMIT): Promise<URLSearchParams> {
  const out = new URLSearchParams();
  for (const [k, v] of query) out.append(k.replace(/\[\]$/, ''), v);
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') { req.resume(); return out; }
  const body = await readSmallBody(req, limit);
  if (body.length === 0) return out;
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  let params: [string, string][] = [];
  if (type.includes('application/json')) {
    let obj: unknown;
    try { obj = JSON.parse(body.toString('utf8')); } catch { throw new ValidationError('Malformed JSON body'); }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ValidationError('JSON body must be an object');
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        if (x === null || x === undefined) continue;
        params.push([k, typeof x === 'object' ? JSON.stringify(x) : String(x)]);
      }
    }
  } else {
    params = [...new URLSearchParams(body.toString('utf8'))];
  }
  const bodyKeys = new Set(params.map(([k]) => k.replace(/\[\]$/, '')));
  for (const k of bodyKeys) out.delete(k);
  for (const [k, v] of params) out.append(k.replace(/\[\]$/, ''), v);
  return out;
}
