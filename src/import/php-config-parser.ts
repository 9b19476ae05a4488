import { ValidationError } from '../errors.ts';

/** A PHP value as config.php can hold it. */
export type PhpValue = string | number | boolean | null | PhpArray;
/** A PHP array: keys in source order (list arrays get 0, 1, … as PHP assigns them). */
export type PhpArray = Map<string | number, PhpValue>;

/**
 * Parses Nextcloud's config.php without executing PHP: `<?php $CONFIG = array (…);` or `[…]`,
 * holding string literals (single quotes with \' and \\; double quotes with the usual escapes),
 * integers, floats, true/false/null (any case), nested arrays, `//`, `#` and block comments.
 * Anything else (constants, function calls, string concatenation, variables) is refused: config
 * that needs PHP to evaluate cannot be read faithfully, so guessing is worse than stopping.
 * @throws ValidationError naming the line of the first thing it cannot read
 */
export function parsePhpConfig(source: string): PhpArray {
  const p = new Parser(source);
  p.skipOpenTag();
  p.ws();
  p.expectWord('$CONFIG');
  p.ws();
  p.expect('=');
  const v = p.value();
  p.ws();
  p.expect(';');
  p.ws();
  if (p.peekRest().startsWith('?>')) p.pos += 2;
  p.ws();
  if (!p.atEnd()) p.fail('unexpected text after $CONFIG = …;');
  if (!(v instanceof Map)) return p.fail('$CONFIG is not an array');
  return v;
}

/** The array as a plain object (nested arrays too), for JSON output and tests. */
export function phpToJs(v: PhpValue): unknown {
  if (!(v instanceof Map)) return v;
  const keys = [...v.keys()];
  if (keys.every((k, i) => k === i)) return [...v.values()].map(phpToJs);
  return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), phpToJs(x)]));
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', e: '\x1b', f: '\f', '\\': '\\', $: '$', '"': '"' };

class Parser {
  pos = 0;
  constructor(readonly s: string) {}

  atEnd(): boolean { return this.pos >= this.s.length; }
  peekRest(): string { return this.s.slice(this.pos, this.pos + 16); }

  fail(msg: string): never {
    const line = this.s.slice(0, this.pos).split('\n').length;
    throw new ValidationError(`config.php line ${line}: ${msg}`);
  }

  skipOpenTag(): void {
    const m = /^\uFEFF?\s*<\?php\b/.exec(this.s);
    if (!m) this.fail('does not start with <?php');
    this.pos = m[0].length;
  }

  /** Skips whitespace and comments. */
  ws(): void {
    for (;;) {
      const c = this.s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { this.pos++; continue; }
      if (c === '#' || (c === '/' && this.s[this.pos + 1] === '/')) {
        while (!this.atEnd() && this.s[this.pos] !== '\n') this.pos++;
        continue;
      }
      if (c === '/' && this.s[this.pos + 1] === '*') {
        const end = this.s.indexOf('*/', this.pos + 2);
        if (end < 0) this.fail('unterminated comment');
        this.pos = end + 2;
        continue;
      }
      return;
    }
  }

  expect(tok: string): void {
    if (!this.s.startsWith(tok, this.pos)) this.fail(`expected "${tok}"`);
    this.pos += tok.length;
  }

  expectWord(word: string): void {
    this.expect(word);
    if (/[A-Za-z0-9_]/.test(this.s[this.pos] ?? '')) this.fail(`expected "${word}"`);
  }

  value(): PhpValue {
    this.ws();
    const c = this.s[this.pos];
    if (c === "'") return this.singleQuoted();
    if (c === '"') return this.doubleQuoted();
    if (c === '[') { this.pos++; return this.arrayBody(']'); }
    if (c === '-' || c === '+' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.pos, this.pos + 64))?.[0];
    if (word === undefined) this.fail('expected a value');
    const lower = word.toLowerCase();
    if (lower === 'array') {
      this.pos += word.length;
      this.ws();
      this.expect('(');
      return this.arrayBody(')');
    }
    if (lower === 'true' || lower === 'false' || lower === 'null') {
      this.pos += word.length;
      return lower === 'null' ? null : lower === 'true';
    }
    return this.fail(`"${word}" cannot be read without running PHP`);
  }

  arrayBody(close: ')' | ']'): PhpArray {
    const out: PhpArray = new Map();
    let nextIndex = 0;
    for (;;) {
      this.ws();
      if (this.s[this.pos] === close) { this.pos++; return out; }
      const first = this.value();
      this.ws();
      let key: string | number;
      let val: PhpValue;
      if (this.s.startsWith('=>', this.pos)) {
        this.pos += 2;
        key = this.arrayKey(first);
        val = this.value();
      } else {
        key = nextIndex;
        val = first;
      }
      if (typeof key === 'number' && key >= nextIndex) nextIndex = key + 1;
      out.set(key, val);
      this.ws();
      if (this.s[this.pos] === ',') { this.pos++; continue; }
      if (this.s[this.pos] === close) { this.pos++; return out; }
      this.fail(`expected "," or "${close}"`);
    }
  }

  /** PHP key casting: integral strings become ints, bools ints, null ''. */
  arrayKey(k: PhpValue): string | number {
    if (k instanceof Map) this.fail('an array cannot be an array key');
    if (k === null) return '';
    if (typeof k === 'boolean') return k ? 1 : 0;
    if (typeof k === 'number') return Math.trunc(k);
    return /^(0|-?[1-9][0-9]*)$/.test(k) && Number.isSafeInteger(Number(k)) ? Number(k) : k;
  }

  number(): number {
    const m = /^[+-]?(0x[0-9a-fA-F_]+|0b[01_]+|0o?[0-7_]+|(\d[\d_]*)?(\.\d[\d_]*)?([eE][+-]?\d+)?)/.exec(this.s.slice(this.pos, this.pos + 64));
    if (!m || m[0] === '' || m[0] === '-' || m[0] === '+') this.fail('bad number');
    this.pos += m[0].length;
    const t = m[0].replace(/_/g, '');
    const neg = t.startsWith('-');
    const body = t.replace(/^[+-]/, '');
    let n: number;
    if (/^0x/i.test(body)) n = parseInt(body.slice(2), 16);
    else if (/^0b/i.test(body)) n = parseInt(body.slice(2), 2);
    else if (/^0o/i.test(body)) n = parseInt(body.slice(2), 8);
    else if (/^0[0-7]+$/.test(body)) n = parseInt(body.slice(1), 8);
    else n = Number(body);
    if (!Number.isFinite(n)) this.fail('bad number');
    return neg ? -n : n;
  }

  singleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      if (this.atEnd()) this.fail('unterminated string');
      const c = this.s[this.pos]!;
      if (c === "'") { this.pos++; return out; }
      if (c === '\\' && (this.s[this.pos + 1] === "'" || this.s[this.pos + 1] === '\\')) {
        out += this.s[this.pos + 1];
        this.pos += 2;
        continue;
      }
      out += c;
      this.pos++;
    }
  }

  doubleQuoted(): string {
    this.pos++;
    // Bytes, not characters: \xNN and octal escapes make raw bytes, decoded as UTF-8 at the end.
    const bytes: number[] = [];
    const pushText = (t: string) => { for (const b of Buffer.from(t, 'utf8')) bytes.push(b); };
    for (;;) {
      if (this.atEnd()) this.fail('unterminated string');
      const c = this.s[this.pos]!;
      if (c === '"') { this.pos++; return Buffer.from(bytes).toString('utf8'); }
      if (c === '$' && /[A-Za-z_{]/.test(this.s[this.pos + 1] ?? '')) this.fail('variables in strings cannot be read without running PHP');
      if (c === '{' && this.s[this.pos + 1] === '$') this.fail('variables in strings cannot be read without running PHP');
      if (c !== '\\') {
        const cp = this.s.codePointAt(this.pos)!;
        const ch = String.fromCodePoint(cp);
        pushText(ch);
        this.pos += ch.length;
        continue;
      }
      const n = this.s[this.pos + 1] ?? '';
      if (n in SIMPLE_ESCAPES) { pushText(SIMPLE_ESCAPES[n]!); this.pos += 2; continue; }
      const hex = /^x([0-9a-fA-F]{1,2})/.exec(this.s.slice(this.pos + 1, this.pos + 4));
      if (hex) { bytes.push(parseInt(hex[1]!, 16)); this.pos += 1 + hex[0].length; continue; }
      const oct = /^[0-7]{1,3}/.exec(this.s.slice(this.pos + 1, this.pos + 4));
      if (oct) { bytes.push(parseInt(oct[0], 8) & 0xff); this.pos += 1 + oct[0].length; continue; }
      const uni = /^u\{([0-9a-fA-F]+)\}/.exec(this.s.slice(this.pos + 1, this.pos + 12));
      if (uni) { pushText(String.fromCodePoint(parseInt(uni[1]!, 16))); this.pos += 1 + uni[0].length; continue; }
      // an unknown escape stays as written, backslash included (PHP does the same)
      bytes.push(0x5c);
      this.pos++;
    }
  }
}
