/**
 * A lean HTTP/1.1 PUT client for the small-file rows of `npm run bench`: keep-alive sockets that
 * write one preformatted request each (headers and body in one write) and read the status line and
 * Content-Length of the reply, nothing more. On 2 cores the client shares the machine with the
 * server; node's http client spends about as much CPU per small PUT as the server's own request
 * parsing, which then shows up as a lower server figure. Real sync clients run on other machines.
 */
import net from 'node:net';

interface Pending { resolve: (status: number) => void; reject: (err: Error) => void }

/** One keep-alive connection; requests on it run one after another (no pipelining). */
class LeanConnection {
  readonly #socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #pending: Pending | undefined;
  #need = -1; // body bytes still to skip of the current reply, -1 while reading its head
  #status = 0;

  constructor(host: string, port: number) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.on('data', (d: Buffer) => this.#onData(d));
    this.#socket.on('error', (err) => this.#fail(err));
    this.#socket.on('close', () => this.#fail(new Error('connection closed by the server')));
  }

  send(head: string, body: Buffer): Promise<number> {
    if (this.#pending) return Promise.reject(new Error('request already in flight'));
    return new Promise<number>((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    });
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      if (this.#need < 0) {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#buf.subarray(0, end).toString('latin1');
        this.#buf = this.#buf.subarray(end + 4);
        this.#status = Number(head.slice(9, 12));
        const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!len && /\r\ntransfer-encoding:/i.test(head)) { this.#fail(new Error('chunked replies are not supported by the lean client')); return; }
        this.#need = len ? Number(len[1]) : 0;
      }
      if (this.#buf.length < this.#need) return;
      this.#buf = this.#buf.subarray(this.#need);
      this.#need = -1;
      const p = this.#pending;
      this.#pending = undefined;
      p?.resolve(this.#status);
      if (this.#buf.length === 0) return;
    }
  }

  #fail(err: Error): void {
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(err);
  }

  close(): void { this.#socket.destroy(); }
}

/**
 * PUTs `count` bodies to `pathOf(i)` over `connections` keep-alive sockets; resolves with the wall
 * time in ms.
 * @throws Error naming the first request whose status is not `expect`, or a socket error.
 */
export async function leanPutMany(o: {
  url: URL; auth: string; count: number; connections: number; body: Buffer;
  pathOf: (i: number) => string; headers?: Record<string, string | number>; expect?: number;
}): Promise<number> {
  const conns = Array.from({ length: Math.min(o.connections, o.count) }, () => new LeanConnection(o.url.hostname, Number(o.url.port)));
  const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const fixed = `Host: ${o.url.host}\r\nAuthorization: ${o.auth}\r\nContent-Length: ${o.body.length}\r\n${extra}\r\n`;
  let next = 0;
  let failed: Error | undefined;
  const t0 = performance.now();
  try {
    await Promise.all(conns.map(async (c) => {
      while (!failed && next < o.count) {
        const i = next++;
        const status = await c.send(`PUT ${o.pathOf(i)} HTTP/1.1\r\n${fixed}`, o.body).catch((err: Error) => { failed ??= err; return 0; });
        if (status !== (o.expect ?? 201) && !failed) failed = new Error(`PUT ${o.pathOf(i)} → ${status}`);
      }
    }));
  } finally {
    for (const c of conns) c.close();
  }
  if (failed) throw failed;
  return performance.now() - t0;
}
