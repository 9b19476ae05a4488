import { fdatasync, fsync, open, read, writev } from 'node:fs';

/**
 * Promise wrappers of the callback fs API on plain descriptors: one promise per call, where a
 * FileHandle adds several promise round trips per operation (it matters for small blobs, where
 * these calls are most of the work). Only calls that may wait for the disk are here; fstat and
 * close of a descriptor do no I/O and run synchronously at the call sites (closeSync after fsync or
 * on a read-only descriptor).
 */

/**
 * Opens `path` with `flags` ('r', 'wx', …).
 * @throws the open error (ENOENT, EEXIST, …) as NodeJS.ErrnoException.
 */
export function openFd(path: string, flags: string, mode = 0o600): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

/**
 * Reads `length` bytes at `position` into a new buffer of that size (fewer only at EOF).
 * @throws the read error.
 */
export async function readFdAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let n = 0;
  while (n < length) {
    const r = await new Promise<number>((resolve, reject) => {
      read(fd, buf, n, length - n, position + n, (err, bytes) => (err ? reject(err) : resolve(bytes)));
    });
    if (r === 0) break;
    n += r;
  }
  return n === length ? buf : buf.subarray(0, n);
}

/**
 * Writes every byte of `bufs` at the descriptor's position (one writev, more only after a partial write).
 * @throws the write error (ENOSPC, …).
 */
export async function writevFdAll(fd: number, bufs: readonly Buffer[]): Promise<void> {
  let rest = bufs.filter((b) => b.length > 0);
  while (rest.length) {
    let written = await new Promise<number>((resolve, reject) => {
      writev(fd, rest, (err, n) => (err ? reject(err) : resolve(n)));
    });
    let i = 0;
    while (i < rest.length && written >= rest[i].length) written -= rest[i++].length;
    rest = i < rest.length ? [rest[i].subarray(written), ...rest.slice(i + 1)] : [];
  }
}

/** fsync(2). @throws the flush error. */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** fdatasync(2). @throws the flush error. */
export function fdatasyncFd(fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
