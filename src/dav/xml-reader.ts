import type { IncomingMessage } from 'node:http';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { TooLargeError, ValidationError } from '../errors.ts';
import { escapeXml } from './xml-writer.ts';
import { XML_MAX_DEPTH } from '../http/limits.ts';

/** A parsed, namespace-resolved XML element of a request body. */
export interface XmlElement {
  /** Namespace URI ('' for none). */
  readonly ns: string;
  readonly local: string;
  /** Attributes by qualified name as written (`xmlns` declarations excluded). */
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  /** Concatenated direct text content (CDATA included), unescaped. */
  readonly text: string;
  /** The element re-serialised, self-contained (namespace declarations included), for dead property values. */
  xml(): string;
  /** The element's content re-serialised, each top-level child element self-contained. */
  innerXml(): string;
}

/** Limits applied while parsing a request body. */
export interface XmlLimits {
  /** Maximum nesting depth (default XML_MAX_DEPTH). */
  maxDepth?: number;
  /** Maximum number of elements (default 100,000). */
  maxElements?: number;
}

interface NsAttr { readonly ns: string; readonly local: string; readonly value: string }
type Content = string | Element;

class Element implements XmlElement {
  readonly children: Element[] = [];
  readonly content: Content[] = [];
  text = '';
  constructor(
    readonly ns: string,
    readonly local: string,
    readonly attrs: Record<string, string>,
    readonly nsAttrs: NsAttr[],
  ) {}

  xml(): string {
    return serialise(this, null);
  }

  innerXml(): string {
    let out = '';
    for (const c of this.content) out += typeof c === 'string' ? escapeXml(c) : serialise(c, null);
    return out;
  }
}

/**
 * Serialises an element with the default namespace only (no prefixes on elements), declaring
 * `xmlns` whenever it differs from the parent's (`parentNs` null = unknown context: always declare).
 * Namespaced attributes get generated prefixes.
 */
function serialise(el: Element, parentNs: string | null): string {
  let out = `<${el.local}`;
  if (parentNs !== el.ns) out += ` xmlns="${escapeXml(el.ns)}"`;
  let n = 0;
  for (const a of el.nsAttrs) {
    if (a.ns === '') out += ` ${a.local}="${escapeXml(a.value)}"`;
    else if (a.ns === 'http://www.w3.org/XML/1998/namespace') out += ` xml:${a.local}="${escapeXml(a.value)}"`;
    else {
      const p = `a${n++}`;
      out += ` xmlns:${p}="${escapeXml(a.ns)}" ${p}:${a.local}="${escapeXml(a.value)}"`;
    }
  }
  if (el.content.length === 0) return `${out}/>`;
  out += '>';
  for (const c of el.content) out += typeof c === 'string' ? escapeXml(c) : serialise(c, el.ns);
  return `${out}</${el.local}>`;
}

/**
 * Parses a request body into a namespace-resolved element tree.
 * DOCTYPE declarations (and with them any entity definitions) are refused, as are processing of
 * undefined entities, bad namespace bindings (`xmlns:p=""`), and documents beyond the limits.
 * @throws ValidationError when the body is empty, malformed, has a DOCTYPE, or exceeds a limit.
 */
export function parseXml(body: string, limits: XmlLimits = {}): XmlElement {
  const maxDepth = limits.maxDepth ?? XML_MAX_DEPTH;
  const maxElements = limits.maxElements ?? 100_000;
  if (body.trim() === '') throw new ValidationError('Empty XML body');
  const parser = new SaxesParser({ xmlns: true, position: false });
  const stack: Element[] = [];
  let root: Element | undefined;
  let count = 0;
  parser.on('doctype', () => { throw new ValidationError('DOCTYPE is not allowed'); });
  parser.on('opentag', (tag: SaxesTagNS) => {
    if (++count > maxElements) throw new ValidationError('XML has too many elements');
    if (stack.length >= maxDepth) throw new ValidationError('XML is nested too deeply');
    const attrs: Record<string, string> = {};
    const nsAttrs: NsAttr[] = [];
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || (a.prefix === '' && a.local === 'xmlns')) continue;
      attrs[a.name] = a.value;
      nsAttrs.push({ ns: a.uri, local: a.local, value: a.value });
    }
    const el = new Element(tag.uri, tag.local, attrs, nsAttrs);
    const parent = stack[stack.length - 1];
    if (parent) { parent.children.push(el); parent.content.push(el); } else root = el;
    stack.push(el);
  });
  const onText = (t: string) => {
    const top = stack[stack.length - 1];
    if (!top) return;
    top.text += t;
    const last = top.content[top.content.length - 1];
    if (typeof last === 'string') top.content[top.content.length - 1] = last + t;
    else top.content.push(t);
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => { stack.pop(); });
  try {
    parser.write(body).close();
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`Malformed XML: ${(err as Error).message}`);
  }
  if (!root) throw new ValidationError('XML has no root element');
  return root;
}

/**
 * Reads a request body as UTF-8 text, up to `limitBytes`.
 * @throws TooLargeError when the body (or its Content-Length) exceeds the limit; the stream's error otherwise.
 */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    throw new TooLargeError(`Request body exceeds ${limitBytes} bytes`);
  }
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limitBytes) {
        cleanup();
        req.resume(); // drain the rest so the connection can carry the error response
        reject(new TooLargeError(`Request body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => { cleanup(); resolve(Buffer.concat(chunks, total).toString('utf8')); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Finds the first direct child with the given namespace and local name. */
export function child(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.local === local);
}
