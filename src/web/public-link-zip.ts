import { crc32 } from 'node:zlib';
import type { Writable } from 'node:stream';
import type { FileNode } from '../files/types.ts';
import { clampMtime } from '../files/mtime.ts';
import { TooLargeError } from '../errors.ts';

/** One member of a zip: a folder (no content) or a file whose content is opened when its turn comes. */
export interface ZipEntry {
  /** Path inside the archive ('/'-separated; folders end in '/'). */
  readonly name: string;
  readonly node: FileNode;
}

/** Most bytes a zip without Zip64 may hold (with headroom for headers). */
export const ZIP_MAX_BYTES = 0xffff_ffff - 64 * 1024 * 1024;
/** Most members a zip without Zip64 may hold. */
export const ZIP_MAX_ENTRIES = 0xffff;

/** @throws TooLargeError when the members need Zip64 (not written yet). */
export function checkZipLimits(entries: readonly ZipEntry[]): void {
  const total = entries.reduce((a, e) => a + (e.node.kind === 'file' ? e.node.size : 0), 0);
  if (entries.length > ZIP_MAX_ENTRIES || total > ZIP_MAX_BYTES) {
    throw new TooLargeError('This folder is too large to download as one zip (over 4 GiB or 65,535 entries)');
  }
}

/** DOS dates run from 1980 to 2107: times outside are clamped to the nearest end. */
const DOS_MIN = Date.UTC(1980, 0, 1) / 1000;
const DOS_MAX = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000;

function dosDateTime(seconds: number): { time: number; date: number } {
  const d = new Date(Math.min(DOS_MAX, Math.max(DOS_MIN, clampMtime(seconds))) * 1000);
  const year = d.getUTCFullYear();
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

async function write(out: Writable, buf: Buffer): Promise<void> {
  if (out.destroyed) throw new Error('client went away');
  if (!out.write(buf)) {
    await new Promise<void>((resolve, reject) => {
      const done = () => { out.off('close', closed); resolve(); };
      const closed = () => { out.off('drain', done); reject(new Error('client went away')); };
      out.once('drain', done);
      out.once('close', closed);
    });
  }
}

/**
 * Streams a zip archive of `entries` to `out` without compression ("stored"), one member at a
 * time with backpressure: CRC-32 and sizes go into a data descriptor after each member, so nothing
 * is buffered. `open(node)` yields a member's content. Memory stays flat whatever the sizes.
 * @throws whatever `open` or the content stream throws; Error when a member's length differs from
 *   its recorded size (the caller then destroys the socket rather than end a wrong archive)
 */
export async function streamZip(out: Writable, entries: readonly ZipEntry[], open: (node: FileNode) => Promise<AsyncIterable<Buffer>>): Promise<void> {
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const { time, date } = dosDateTime(e.node.mtime);
    const isDir = e.node.kind === 'dir';
    const flags = 0x0800 | (isDir ? 0 : 0x0008); // UTF-8 names; data descriptor for files
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    // crc and sizes: 0 here, in the data descriptor after the content
    local.writeUInt16LE(name.length, 26);
    await write(out, Buffer.concat([local, name]));
    const headerOffset = offset;
    offset += 30 + name.length;
    let crc = 0;
    let size = 0;
    if (!isDir) {
      for await (const chunk of await open(e.node)) {
        const b = chunk as Buffer;
        crc = crc32(b, crc);
        size += b.length;
        await write(out, b);
      }
      if (size !== e.node.size) throw new Error(`${e.name}: content length ${size} differs from its recorded size ${e.node.size}`);
      const desc = Buffer.alloc(16);
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(crc >>> 0, 4);
      desc.writeUInt32LE(size, 8);
      desc.writeUInt32LE(size, 12);
      await write(out, desc);
      offset += size + 16;
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(0x031e, 4); // made by: unix, 3.0
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(flags, 8);
    c.writeUInt16LE(0, 10);
    c.writeUInt16LE(time, 12);
    c.writeUInt16LE(date, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(size, 20);
    c.writeUInt32LE(size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(isDir ? ((0o40755 << 16) | 0x10) >>> 0 : (0o100644 << 16) >>> 0, 38);
    c.writeUInt32LE(headerOffset, 42);
    central.push(c, name);
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  await write(out, Buffer.concat([cd, end]));
}
