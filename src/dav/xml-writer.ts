import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Namespace URIs used in DAV answers: DAV, ownCloud, Nextcloud, Sabre. */
export const DAV_NS = 'DAV:';
/** ownCloud properties (oc:). */
export const OC_NS = 'http://owncloud.org/ns';
/** Nextcloud properties (nc:). */
export const NC_NS = 'http://nextcloud.org/ns';
/** Sabre error elements (s:). */
export const SABRE_NS = 'http://sabredav.org/ns';

const PREFIXES: Record<string, string> = { [DAV_NS]: 'd', [OC_NS]: 'oc', [NC_NS]: 'nc', [SABRE_NS]: 's' };

/** Opening of every multistatus answer (declares d, s, oc and nc). */
export const MULTISTATUS_OPEN =
  '<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"'
  + ' xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">';
/** Closing of every multistatus answer. */
export const MULTISTATUS_CLOSE = '</d:multistatus>\n';

const ESCAPE_RE = /[&<>"']/;
const ESCAPE_ALL = /[&<>"']/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for use in XML content or attribute values. */
export function escapeXml(s: string): string {
  return ESCAPE_RE.test(s) ? s.replace(ESCAPE_ALL, (c) => ENTITIES[c]!) : s;
}

/** `HTTP/1.1 <code> <reason>` for a propstat or response status line. */
export function statusLine(code: number): string {
  return `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}`;
}

/**
 * Element name parts for a property in any namespace: known namespaces use their prefix
 * (declared on the multistatus root); any other (including '') uses a default-namespace declaration.
 */
export function qname(ns: string, local: string): { open: string; close: string } {
  const p = PREFIXES[ns];
  if (p) return { open: `${p}:${local}`, close: `${p}:${local}` };
  return { open: `${local} xmlns="${escapeXml(ns)}"`, close: local };
}

/** `<p:name>inner</p:name>`, or the empty element when `inner` is ''. */
export function propElement(ns: string, local: string, inner: string): string {
  const q = qname(ns, local);
  return inner === '' ? `<${q.open}/>` : `<${q.open}>${inner}</${q.close}>`;
}

const PROPSTAT_TAILS = new Map<number, string>();

/** One `<d:propstat>` block: props already serialised. */
export function propstat(props: string, status: number): string {
  let tail = PROPSTAT_TAILS.get(status);
  if (tail === undefined) {
    tail = `</d:prop><d:status>${statusLine(status)}</d:status></d:propstat>`;
    PROPSTAT_TAILS.set(status, tail);
  }
  return '<d:propstat><d:prop>' + props + tail;
}

/** A `<d:response>` with propstats (an href already encoded). */
export function responseWithPropstats(href: string, propstats: string): string {
  return `<d:response><d:href>${escapeXml(href)}</d:href>${propstats}</d:response>`;
}

/** Sabre-style error body. */
export function davErrorBody(exception: string, message: string, extra = ''): string {
  return '<?xml version="1.0" encoding="utf-8"?>\n'
    + '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">'
    + `<s:exception>${escapeXml(exception)}</s:exception><s:message>${escapeXml(message)}</s:message>${extra}`
    + '</d:error>\n';
}

/**
 * Streams a 207 multistatus answer: `start()` sends the head, `write()` appends `<d:response>`
 * items (batched into ~64 KiB chunks, waiting for drain under backpressure), `end()` closes it.
 */
export class MultistatusWriter {
  private buf = '';
  private started = false;

  constructor(private readonly res: ServerResponse, private readonly flushAt = 64 * 1024) {}

  /** Sends the status line and headers (chunked transfer), and the document opening. */
  start(extraHeaders: Record<string, string> = {}): void {
    if (this.started) return;
    this.started = true;
    this.res.statusCode = 207;
    this.res.setHeader('Content-Type', 'application/xml; charset=utf-8');
    for (const [k, v] of Object.entries(extraHeaders)) this.res.setHeader(k, v);
    this.buf = MULTISTATUS_OPEN;
  }

  /** Appends serialised `<d:response>` items; resolves once the socket can take more. */
  async write(item: string): Promise<void> {
    this.buf += item;
    if (this.buf.length >= this.flushAt) await this.flush();
  }

  /**
   * Like `write` without a promise per item: returns one only when the buffer was flushed, and the
   * caller must then await it (backpressure). For loops over thousands of entries.
   */
  add(item: string): Promise<void> | undefined {
    this.buf += item;
    return this.buf.length >= this.flushAt ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    if (this.buf === '') return;
    const chunk = this.buf;
    this.buf = '';
    if (this.res.destroyed) throw new Error('client went away');
    if (!this.res.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = () => { this.res.off('drain', done); this.res.off('close', closed); resolve(); };
        const closed = () => { this.res.off('drain', done); reject(new Error('client went away')); };
        this.res.once('drain', done);
        this.res.once('close', closed);
      });
    }
  }

  /** Closes the document and ends the response. */
  end(): void {
    this.start();
    const body = this.buf + MULTISTATUS_CLOSE;
    this.buf = '';
    this.res.end(body);
  }
}
