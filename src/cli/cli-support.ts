/**
 * What `./occ` command authors use: opening the App, printing data (json / plain), confirmations,
 * secret prompts, and the one mapping from errors to exit codes.
 *
 * Exit codes (documented in the README and `./occ --help`):
 *
 * | code | meaning                                                                       |
 * |------|-------------------------------------------------------------------------------|
 * | 0    | success                                                                       |
 * | 1    | failure (unexpected error, database unreachable, …)                           |
 * | 2    | usage: unknown command/option, missing argument, invalid input (`invalid`)    |
 * | 3    | not installed, or the config file is missing/invalid (`config`)               |
 * | 4    | not found (`not-found`): user, file, app                                      |
 * | 5    | conflict / refused: already exists, conflict, locked, forbidden,               |
 * |      | quota, not supported, a confirmation answered "no"                             |
 * | 6    | authentication failed or throttled (`unauthenticated`, `throttled`)           |
 * | 7    | integrity/crypto error (`crypto`): tampered or undecryptable data             |
 */
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import type { App } from '../app.ts';
import { loadConfig, configPath, type Config } from '../config/config.ts';
import { AppError, ConfigError, StorageFullError, classifyDiskFull } from '../errors.ts';
import { createLogger, silentLogger } from '../logger.ts';

/** Process exit codes of `./occ`. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_INSTALLED: 3,
  NOT_FOUND: 4,
  REFUSED: 5,
  AUTH: 6,
  INTEGRITY: 7,
} as const;

/** AppError `code` → exit code. Anything not listed is EXIT.FAILURE. */
const CODE_TO_EXIT: Record<string, number> = {
  'invalid': EXIT.USAGE,
  'config': EXIT.NOT_INSTALLED,
  'not-found': EXIT.NOT_FOUND,
  'already-exists': EXIT.REFUSED,
  'conflict': EXIT.REFUSED,
  'precondition-failed': EXIT.REFUSED,
  'locked': EXIT.REFUSED,
  'forbidden': EXIT.REFUSED,
  'quota-exceeded': EXIT.REFUSED,
  'not-supported': EXIT.REFUSED,
  'too-large': EXIT.REFUSED,
  'unauthenticated': EXIT.AUTH,
  'throttled': EXIT.AUTH,
  'crypto': EXIT.INTEGRITY,
  'blob-missing': EXIT.INTEGRITY,
  'storage-full': EXIT.FAILURE,
};

/**
 * An error a command throws to end with a given exit code and message (`error: message` on
 * stderr). Use it for terminal-only situations; services throw AppErrors, which map by code.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The exit code for any thrown value (CliError, AppError by code, else 1). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof AppError) return CODE_TO_EXIT[err.code] ?? EXIT.FAILURE;
  return EXIT.FAILURE;
}

/**
 * Prints `error: message` to stderr (the stack only with COFFER_DEBUG=1) and returns the exit code.
 * The single place where the CLI turns errors into exit codes.
 */
export function reportError(thrown: unknown): number {
  const err = classifyDiskFull(thrown);
  const msg = err instanceof StorageFullError
    ? `disk full: ${err.cause instanceof Error ? err.cause.message : 'no space left on the server\'s storage'}`
    : err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${msg}\n`);
  if (process.env.COFFER_DEBUG === '1' && err instanceof Error && err.stack) {
    process.stderr.write(err.stack + '\n');
    if (err.cause) process.stderr.write(`cause: ${err.cause instanceof Error ? err.cause.stack : String(err.cause)}\n`);
  }
  return exitCodeFor(err);
}

// ---------------------------------------------------------------------------------------------
// Options

export type OutputFormat = 'plain' | 'json' | 'json_pretty';

/** The `--output=json|json_pretty|plain` option; add it to commands that print data. */
export function outputOption(): Option {
  return new Option('--output <format>', 'output format').choices(['plain', 'json', 'json_pretty']).default('plain');
}

export interface CliOptions {
  /** `-n/--no-interaction` given, or stdin is not a terminal. */
  readonly noInteraction: boolean;
  /** `--output` of this command (plain when the command has none). */
  readonly output: OutputFormat;
}

/** The global options as seen by a command's action (pass the action's Command argument). */
export function cliOptions(cmd: Command): CliOptions {
  const o = cmd.optsWithGlobals() as { interaction?: boolean; output?: OutputFormat };
  return { noInteraction: o.interaction === false || !process.stdin.isTTY, output: o.output ?? 'plain' };
}

// ---------------------------------------------------------------------------------------------
// App

export interface WithAppOptions {
  /** 'silent' (default) drops logs; 'stderr' writes JSON logs to stderr at the config's level. */
  logger?: 'silent' | 'stderr';
  /** Run migrations on open (default true). */
  migrate?: boolean;
}

/**
 * Loads the config (`$COFFER_CONFIG` or `config/config.json`), opens the App, runs `fn`, and
 * always closes the App.
 * @throws ConfigError when not installed or the config is invalid (exit 3); whatever `fn` throws.
 */
export async function withApp<T>(fn: (app: App) => Promise<T>, opts: WithAppOptions = {}): Promise<T> {
  const config = loadInstalledConfig();
  const log = opts.logger === 'stderr' ? createLogger(config.loglevel) : silentLogger();
  // Loaded lazily: `--help` and `status` work even while a service module is broken or slow to load.
  const { openApp } = await import('../app.ts');
  const app = await openApp(config, { logger: log, migrate: opts.migrate });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

/**
 * The config of an installed instance.
 * @throws ConfigError when the file is missing/invalid or says `installed: false`.
 */
export function loadInstalledConfig(path = configPath()): Config {
  const config = loadConfig(path);
  if (!config.installed) throw new ConfigError(`Coffer is not installed (${path} has installed: false); run ./occ maintenance:install`);
  return config;
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Prints data as occ does. json: one line; json_pretty: indented; plain: objects as
 * ` - key: value` lists (nested indented), arrays of objects as a table, scalars as they are.
 */
export function printData(data: unknown, format: OutputFormat = 'plain'): void {
  process.stdout.write(formatData(data, format));
}

/** The text printData writes (ends with a newline). */
export function formatData(data: unknown, format: OutputFormat = 'plain'): string {
  if (format === 'json') return JSON.stringify(data) + '\n';
  if (format === 'json_pretty') return JSON.stringify(data, null, 4) + '\n';
  if (Array.isArray(data) && data.length > 0 && data.every(isPlainObject)) return formatTable(data as Record<string, unknown>[]);
  if (isPlainObject(data) || Array.isArray(data)) return formatList(data, 0);
  return scalar(data) + '\n';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function formatList(data: Record<string, unknown> | unknown[], depth: number): string {
  const pad = '  '.repeat(depth * 2);
  let out = '';
  const entries: [string | null, unknown][] = Array.isArray(data) ? data.map((v) => [null, v]) : Object.entries(data);
  for (const [k, v] of entries) {
    const label = k === null ? '' : `${k}:`;
    if (isPlainObject(v) || (Array.isArray(v) && v.length > 0)) {
      out += `${pad} - ${label}\n` + formatList(v as Record<string, unknown> | unknown[], depth + 1);
    } else {
      const s = Array.isArray(v) ? '' : scalar(v);
      out += k === null ? `${pad} - ${s}\n` : `${pad} - ${label}${s === '' ? '' : ' ' + s}\n`;
    }
  }
  return out;
}

/** Symfony-style ASCII table. */
function formatTable(rows: Record<string, unknown>[]): string {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const cells = rows.map((r) => cols.map((c) => scalar(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = '+' + width.map((w) => '-'.repeat(w + 2)).join('+') + '+\n';
  const fmt = (vals: string[]) => '|' + vals.map((v, i) => ` ${v.padEnd(width[i]!)} `).join('|') + '|\n';
  return line + fmt(cols) + line + cells.map(fmt).join('') + line;
}

// ---------------------------------------------------------------------------------------------
// Terminal input

export interface ConfirmOptions {
  /** `-n` given (or stdin not a TTY): no question, the default is the answer. */
  noInteraction: boolean;
  /** The answer on Enter and in non-interactive runs (default false). */
  defaultYes?: boolean;
}

/**
 * Asks a yes/no question on the terminal (prompt on stderr). With `noInteraction`, or when stdin
 * is not a TTY, returns the default without asking.
 */
export async function confirm(question: string, opts: ConfirmOptions): Promise<boolean> {
  const def = opts.defaultYes ?? false;
  if (opts.noInteraction || !process.stdin.isTTY) return def;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    for (;;) {
      const answer = (await new Promise<string>((resolve) => rl.question(`${question} ${def ? '[Y/n]' : '[y/N]'} `, resolve))).trim().toLowerCase();
      if (answer === '') return def;
      if (answer === 'y' || answer === 'yes') return true;
      if (answer === 'n' || answer === 'no') return false;
    }
  } finally {
    rl.close();
  }
}

/**
 * One line reader for a piped stdin for the whole process: a reader per prompt would lose the
 * lines the previous one had already buffered (a password piped twice for "repeat").
 */
let stdinLines: AsyncIterator<string> | undefined;

async function nextStdinLine(): Promise<string | undefined> {
  stdinLines ??= createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  const r = await stdinLines.next();
  return r.done ? undefined : r.value;
}

/**
 * Reads a secret without echo (prompt on stderr). When stdin is not a TTY, reads one line from it.
 * @throws CliError (exit 2) when stdin ends before a line, or on Ctrl-C.
 */
export async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  if (!stdin.isTTY) {
    const line = await nextStdinLine();
    if (line === undefined) throw new CliError('no input on stdin', EXIT.USAGE);
    return line;
  }
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err: Error | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolve(buf);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new CliError('interrupted', EXIT.FAILURE));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}
