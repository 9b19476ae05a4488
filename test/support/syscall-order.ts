/**
 * Crash-consistency by the order of system calls, as tools like ALICE and CrashMonkey reason: a
 * process is traced with `strace -f -yy`, and for each answered request we check that everything
 * it changed was on stable storage before the answer's first byte went out.
 *
 * For one request (the lines between the read of its request line and the write of its `HTTP/1.1 2xx`
 * answer on the same socket; or, for a CLI command, from its start to its exit):
 * - every file or folder entry it created or replaced (open with O_CREAT, mkdir, link, rename) and
 *   did not remove again was followed by an fsync of its folder, completed before the answer;
 * - every file it created, or wrote to, was fsynced or fdatasynced after its last write, before the
 *   answer (a file linked or renamed into place counts through the name it was written under; a
 *   file it removed again, a lock or a temp file, need not survive);
 * - PostgreSQL: every message sent to the database was answered (a read on that socket after the
 *   last write), so that each commit had returned, and with it its WAL flush, before the answer.
 * The SQLite WAL is a file written to like any other, so the second rule covers its commits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';

/** The system calls the analysis needs (plus reads and writes to find requests and answers). */
export const TRACED_CALLS = [
  'openat', 'open', 'creat', 'mkdir', 'mkdirat', 'link', 'linkat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat',
  'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'fsync', 'fdatasync', 'read', 'readv', 'recvfrom', 'sendto', 'sendmsg', 'exit_group',
].join(',');

/** strace's command line prefix: follow threads and children, decode descriptors to paths and socket addresses. */
export function straceArgs(outFile: string): string[] {
  return ['-f', '-yy', '-s', '120', '-o', outFile, '-e', `trace=${TRACED_CALLS}`];
}

export interface Call {
  readonly pid: number;
  readonly name: string;
  /** Arguments as strace printed them. */
  readonly args: string;
  /** The return value (number), NaN when unparsable. */
  readonly ret: number;
  /** What -yy printed after the return value (a new descriptor's path). */
  readonly retPath: string | undefined;
  /** Line index where the call started and where it completed (the same unless it was interrupted by other threads' lines). */
  readonly start: number;
  readonly end: number;
}

/** Parses strace -f output into calls (joining `<unfinished ...>` with `<... resumed>`). */
export function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<number, { name: string; head: string; start: number }>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const m = /^(\d+) +(.*)$/.exec(line);
    if (!m) return;
    const pid = Number(m[1]);
    const rest = m[2]!;
    let name: string;
    let body: string;
    let start = i;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      const p = pending.get(pid);
      if (!p) return;
      pending.delete(pid);
      name = p.name;
      body = p.head + resumed[2]!;
      start = p.start;
    } else {
      const c = /^(\w+)\((.*)$/.exec(rest);
      if (!c) return;
      if (rest.endsWith('<unfinished ...>')) {
        pending.set(pid, { name: c[1]!, head: c[2]!.slice(0, -'<unfinished ...>'.length).trimEnd(), start: i });
        return;
      }
      name = c[1]!;
      body = c[2]!;
    }
    const r = /\) += (-?\d+|\?)(?:<(.*)>)?(?: .*)?$/.exec(body);
    if (!r) return;
    calls.push({ pid, name, args: body.slice(0, r.index), ret: Number(r[1]), retPath: r[2], start, end: i });
  });
  return calls;
}

/** The last element that satisfies `f` (Array.prototype.findLast is ES2023, beyond our lib setting). */
function findLast<T>(list: readonly T[], f: (x: T) => boolean): T | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (f(list[i]!)) return list[i];
  return undefined;
}

/** The decoded path of the descriptor that is a call's first argument (`26</a/b>` → `/a/b`). */
function fdPath(c: Call): string | undefined {
  const m = /^-?\d+<(.*?)>(?=,|$)/.exec(c.args); // a socket's decoration holds '->'
  return m ? m[1] : undefined;
}

/** The quoted strings among a call's arguments (paths of open, mkdir, link, rename, unlink). */
function quoted(c: Call): string[] {
  return [...c.args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
}

const SOCKET = /^TCP(?:v6)?:\[(.*)\]$/;

/** A traced request: where its request was read and its answer written. */
export interface Answered {
  /** Line of the first read of the request. */
  readonly from: number;
  /** Line where the answer started to be written. */
  readonly answeredAt: number;
  readonly status: number;
  readonly socket: string;
}

/**
 * Finds the `n`-th request (0-based, in trace order) whose request line starts with `method path`,
 * and the first answer written on its socket after it.
 * @throws Error when either is missing.
 */
export function findRequest(calls: readonly Call[], method: string, path: string, n = 0): Answered {
  const needle = `"${method} ${path}`;
  let seen = 0;
  for (const c of calls) {
    if ((c.name !== 'read' && c.name !== 'recvfrom' && c.name !== 'readv') || !c.args.includes(needle)) continue;
    const sock = fdPath(c);
    if (!sock || !SOCKET.test(sock)) continue;
    const after = c.args.slice(c.args.indexOf(needle) + needle.length);
    if (!/^[ ?]/.test(after)) continue; // the exact path, not a longer one
    if (seen++ < n) continue;
    const answer = calls.find((w) => w.start > c.end && /^(write|writev|sendmsg|sendto)$/.test(w.name) && fdPath(w) === sock && /"HTTP\/1\.1 \d{3}/.test(w.args));
    if (!answer) throw new Error(`no answer to ${method} ${path} in the trace`);
    return { from: c.start, answeredAt: answer.start, status: Number(/"HTTP\/1\.1 (\d{3})/.exec(answer.args)![1]), socket: sock };
  }
  throw new Error(`request ${method} ${path} (#${n}) not found in the trace`);
}

/** The whole life of a traced CLI process: from the first line to its exit_group. */
export function wholeRun(calls: readonly Call[]): Answered {
  const exit = findLast(calls, (c) => c.name === 'exit_group');
  if (!exit) throw new Error('the traced command did not exit');
  return { from: 0, answeredAt: exit.start, status: 0, socket: '' };
}

export interface OrderOptions {
  /** Only files under this folder count (the instance's folder: not the node binary's own files, pipes, ...). */
  readonly root: string;
  /** Files whose changes need not be durable (SQLite's shared-memory index, the logs). */
  readonly ignore?: (path: string) => boolean;
}

const DEFAULT_IGNORE = (p: string) => p.endsWith('-shm') || p.endsWith('.log');

/**
 * The durability violations of one answered request (empty when everything it changed was on
 * stable storage before the answer). Also returns what it checked, so a test can assert that the
 * request did write what it should have (an empty check proves nothing).
 */
export function durabilityViolations(calls: readonly Call[], a: Answered, o: OrderOptions): { violations: string[]; created: string[]; written: string[]; dbSockets: string[] } {
  const ignore = (p: string) => !p.startsWith(o.root + '/') || DEFAULT_IGNORE(p) || (o.ignore?.(p) ?? false);
  const inSeg = calls.filter((c) => c.end > a.from && c.start < a.answeredAt);
  const before = (c: Call) => c.end < a.answeredAt;
  const syncs = inSeg.filter((c) => (c.name === 'fsync' || c.name === 'fdatasync') && c.ret === 0 && before(c));
  const syncedAfter = (path: string, line: number) => syncs.some((s) => fdPath(s) === path && s.start > line);

  /** Entries made: path → line of completion; and the name its content was written under. */
  const made = new Map<string, { line: number; source: string }>();
  /** Files written: path → line of the last write. */
  const lastWrite = new Map<string, number>();
  /** Files removed by the end (a lock or a temp file): nothing of them has to survive. */
  const removed = new Set<string>();
  for (const c of inSeg) {
    if (c.ret < 0 || Number.isNaN(c.ret)) continue;
    const q = quoted(c);
    switch (c.name) {
      case 'open': case 'openat': case 'creat':
        // O_CREAT alone opens existing files too (SQLite opens its database so): a new or replaced
        // file is one opened with O_EXCL or O_TRUNC; what is written through the others is checked below
        if ((c.name === 'creat' || (/O_CREAT/.test(c.args) && /O_EXCL|O_TRUNC/.test(c.args))) && q[0]) made.set(q[0], { line: c.end, source: q[0] });
        break;
      case 'mkdir': case 'mkdirat':
        if (q[0]) made.set(q[0], { line: c.end, source: '' });
        break;
      case 'link': case 'linkat': case 'rename': case 'renameat': case 'renameat2': {
        const [from, to] = q;
        if (!from || !to) break;
        const src = made.get(from)?.source ?? from;
        made.set(to, { line: c.end, source: src });
        if (c.name.startsWith('rename')) made.delete(from);
        break;
      }
      case 'unlink': case 'unlinkat':
        if (q[0]) { made.delete(q[0]); removed.add(q[0]); }
        break;
      case 'write': case 'writev': case 'pwrite64': case 'pwritev': case 'pwritev2': {
        const p = fdPath(c);
        if (p && p.startsWith('/')) lastWrite.set(p, c.end);
        break;
      }
    }
  }
  const violations: string[] = [];
  const created: string[] = [];
  for (const [path, { line, source }] of made) {
    if (ignore(path)) continue;
    created.push(path);
    if (!syncedAfter(dirname(path), line)) violations.push(`entry ${path} was made but its folder was not fsynced before the answer`);
    if (source && !lastWrite.has(source) && !syncs.some((s) => fdPath(s) === source || fdPath(s) === path)) {
      violations.push(`file ${path} was created but never fsynced before the answer`);
    }
  }
  const written: string[] = [];
  for (const [path, line] of lastWrite) {
    if (ignore(path) || (removed.has(path) && !made.has(path))) continue;
    written.push(path);
    if (!syncedAfter(path, line)) violations.push(`file ${path} was written but not fsynced after its last write, before the answer`);
  }
  // PostgreSQL: each socket to port 5432 used by the request must have been answered last
  const dbSockets: string[] = [];
  const pgOps = inSeg.filter((c) => before(c) && /:5432\]$/.test(fdPath(c) ?? ''));
  for (const sock of new Set(pgOps.map((c) => fdPath(c)!))) {
    dbSockets.push(sock);
    const ops = pgOps.filter((c) => fdPath(c) === sock);
    const lastSend = findLast(ops, (c) => /^(write|writev|sendto|sendmsg)$/.test(c.name));
    const lastRead = findLast(ops, (c) => /^(read|readv|recvfrom)$/.test(c.name) && c.ret > 0);
    // A read in flight (push notifications look up who sees a change a few ms after each commit,
    // on a timer that may fire during the next request) says nothing about durability; anything
    // else unanswered (a write, a COMMIT) would.
    // (the driver may write one query as several messages: look at every send since the last answer)
    const unanswered = ops.filter((c) => /^(write|writev|sendto|sendmsg)$/.test(c.name) && (!lastRead || c.end > lastRead.end)).map((c) => c.args).join(' ');
    const readOnly = /select\b/i.test(unanswered) && !/\b(insert|update|delete|commit|begin)\b/i.test(unanswered);
    if (lastSend && !readOnly && (!lastRead || lastRead.end < lastSend.end)) violations.push(`a message to PostgreSQL on ${sock} was not answered before the answer`);
  }
  return { violations, created, written, dbSockets };
}

/** Runs `cmd args` under strace writing to `outFile`. */
export function spawnTraced(outFile: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('strace', [...straceArgs(outFile), cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}
