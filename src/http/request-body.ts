import type { IncomingMessage } from 'node:http';
import { TooLargeError } from '../errors.ts';

/** Default limit for small API request bodies. */
export const FORM_BODY_LIMIT = 64 * 1024;

/**
 * Reads a small request body into memory, refusing more than `limit` bytes.
 * @throws TooLargeError (Content-Length or the actual body over the limit)
 */
export async function readSmallBody(req: IncomingMessage, limit = FORM_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) { req.resume(); throw new TooLargeError('Request body too large'); }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) { req.resume(); throw new TooLargeError('Request body too large'); }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
