/** Serialises OCS data as Nextcloud does (JSON, or XML with `<element>` for list items). */

export type OcsFormat = 'json' | 'xml';

/**
 * The response format a request asks for: `?format=json|xml`, else `Accept: application/json`,
 * else XML (Nextcloud's default).
 */
export function requestedFormat(query: URLSearchParams, accept: string | undefined): OcsFormat {
  const f = query.get('format')?.toLowerCase();
  if (f === 'json') return 'json';
  if (f === 'xml') return 'xml';
  return accept && /application\/json/i.test(accept) ? 'json' : 'xml';
}

/** Escapes text for XML character data and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]!))
    // characters XML 1.0 cannot carry at all
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function scalarXml(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '';
  return escapeXml(String(v));
}

/** XML for one value under element `name`, indented. */
function valueXml(name: string, v: unknown, indent: string): string {
  const tag = XML_NAME.test(name) && !/^xml/i.test(name) ? name : 'element';
  if (Array.isArray(v)) {
    if (v.length === 0) return `${indent}<${tag}/>\n`;
    return `${indent}<${tag}>\n${v.map((x) => valueXml('element', x, indent + ' ')).join('')}${indent}</${tag}>\n`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return `${indent}<${tag}/>\n`;
    return `${indent}<${tag}>\n${entries.map(([k, x]) => valueXml(k, x, indent + ' ')).join('')}${indent}</${tag}>\n`;
  }
  const s = scalarXml(v);
  return s === '' ? `${indent}<${tag}/>\n` : `${indent}<${tag}>${s}</${tag}>\n`;
}

/** The OCS meta block. */
export interface OcsMeta {
  status: 'ok' | 'failure';
  statuscode: number;
  message: string;
  totalitems?: string;
  itemsperpage?: string;
}

/** The whole `{ocs:{meta,data}}` document in the given format. */
export function renderOcs(format: OcsFormat, meta: OcsMeta, data: unknown): string {
  if (format === 'json') return JSON.stringify({ ocs: { meta, data: data ?? [] } });
  let out = '<?xml version="1.0"?>\n<ocs>\n';
  out += valueXml('meta', meta, ' ');
  out += valueXml('data', data ?? [], ' ');
  return out + '</ocs>\n';
}
