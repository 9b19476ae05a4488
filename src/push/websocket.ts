import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The server side of RFC 6455 that push needs, on the socket of a node:http upgrade: the
 * handshake, unfragmented or fragmented text messages up to a small size, ping/pong and close,
 * and unmasked frames out. Written here instead of taking the `ws` package because push needs so
 * little of it, and because the point of the design is per-connection cost and control of what
 * waits in the socket: this keeps no buffers of its own beyond a partial incoming frame (a few
 * bytes while idle), and the caller sees `buffered` to drop a reader that stopped reading.
 */

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Why an upgrade request is not a WebSocket handshake we accept, or undefined when it is. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'WebSocket handshakes are GET requests';
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'Upgrade: websocket is required';
  if (req.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version 13 is required';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return 'A valid Sec-WebSocket-Key is required';
  return undefined;
}

/** The 101 answer to a handshake that handshakeProblem accepted. */
export function handshakeResponse(req: IncomingMessage): string {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

/** A refusal of an upgrade request, as plain HTTP on the raw socket. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 404 ? 'Not Found' : 'Service Unavailable'}\r\n`
    + `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** One frame to the client (servers never mask). */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len])
    : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
      : (() => { const h = Buffer.alloc(10); h[0] = 0x80 | opcode; h[1] = 127; h.writeBigUInt64BE(BigInt(len), 2); return h; })();
  return Buffer.concat([head, payload]);
}

/** Where an upgraded socket keeps its ServerWebSocket, for the shared listeners below. */
const WS = Symbol('ServerWebSocket');
type WsSocket = Duplex & { [WS]: ServerWebSocket };

export interface WebSocketEvents {
  text(message: string): void;
  pong(payload: Buffer): void;
  /** The connection is over (close frame, protocol error, socket end); called once. */
  closed(reason: string): void;
}

/**
 * A server-side WebSocket over an upgraded socket. Incoming messages larger than `maxMessage`
 * bytes, binary messages, unmasked frames and invalid UTF-8 close the connection (1009/1003/1002/1007).
 */
export class ServerWebSocket {
  readonly #socket: Duplex;
  readonly #events: WebSocketEvents;
  readonly #maxMessage: number;
  #pending: Buffer | undefined;
  #fragments: Buffer[] | undefined;
  #fragmentBytes = 0;
  #closed = false;

  constructor(socket: Duplex, events: WebSocketEvents, maxMessage: number) {
    this.#socket = socket;
    this.#events = events;
    this.#maxMessage = maxMessage;
    // the same listener functions for every socket (they find their WebSocket on it): an idle
    // connection holds no closures of its own
    (socket as WsSocket)[WS] = this;
    socket.on('data', ServerWebSocket.#onSocketData);
    socket.on('error', ServerWebSocket.#onSocketError);
    socket.on('close', ServerWebSocket.#onSocketClose);
    socket.on('end', ServerWebSocket.#onSocketEnd);
  }

  static #onSocketData(this: WsSocket, chunk: Buffer): void { this[WS].#onData(chunk); }
  static #onSocketError(this: WsSocket): void { this[WS].#finish('socket error'); }
  static #onSocketClose(this: WsSocket): void { this[WS].#finish('socket closed'); }
  static #onSocketEnd(this: WsSocket): void { this[WS].#finish('socket ended'); }

  /** Bytes written but not yet taken by the kernel (a reader that stopped reading makes it grow). */
  get buffered(): number { return (this.#socket as Duplex & { writableLength: number }).writableLength; }

  get closed(): boolean { return this.#closed; }

  sendText(text: string): void { this.#write(encodeFrame(OP_TEXT, Buffer.from(text, 'utf8'))); }

  ping(payload: Buffer): void { this.#write(encodeFrame(OP_PING, payload)); }

  /** Sends a close frame and ends the socket. */
  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.#socket.end(encodeFrame(OP_CLOSE, payload));
    this.#finish(`closed by server (${code})`);
  }

  /** Drops the connection at once, without a close frame (a reader that stopped reading). */
  destroy(reason: string): void {
    this.#socket.destroy();
    this.#finish(reason);
  }

  #write(frame: Buffer): void {
    if (!this.#closed) this.#socket.write(frame);
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    this.#fragments = undefined;
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.end();
    this.#events.closed(reason);
  }

  #onData(chunk: Buffer): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    while (!this.#closed) {
      const used = this.#frame(buf);
      if (used === 0) break;
      buf = buf.subarray(used);
    }
    // only a partial frame is kept: a copy, so that the chunk it came in is not held
    if (!this.#closed && buf.length > 0) this.#pending = Buffer.from(buf);
  }

  /** Handles one complete frame at the start of `buf`; returns the bytes it used (0: incomplete). */
  #frame(buf: Buffer): number {
    if (buf.length < 2) return 0;
    const fin = (buf[0]! & 0x80) !== 0;
    if ((buf[0]! & 0x70) !== 0) { this.close(1002, 'reserved bits'); return 0; }
    const opcode = buf[0]! & 0x0f;
    if ((buf[1]! & 0x80) === 0) { this.close(1002, 'client frames must be masked'); return 0; }
    let len = buf[1]! & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) return 0;
      len = buf.readUInt16BE(2); off = 4;
    } else if (len === 127) {
      if (buf.length < 10) return 0;
      const big = buf.readBigUInt64BE(2);
      if (big > BigInt(this.#maxMessage)) { this.close(1009, 'message too big'); return 0; }
      len = Number(big); off = 10;
    }
    if (len > this.#maxMessage) { this.close(1009, 'message too big'); return 0; }
    if (buf.length < off + 4 + len) return 0;
    const mask = buf.subarray(off, off + 4);
    const payload = Buffer.alloc(len);
    for (let i = 0; i < len; i++) payload[i] = buf[off + 4 + i]! ^ mask[i & 3]!;
    this.#dispatch(opcode, fin, payload);
    return off + 4 + len;
  }

  #dispatch(opcode: number, fin: boolean, payload: Buffer): void {
    switch (opcode) {
      case OP_PING: this.#write(encodeFrame(OP_PONG, payload)); return;
      case OP_PONG: this.#events.pong(payload); return;
      case OP_CLOSE: this.close(1000); return;
      case OP_BINARY: this.close(1003, 'text messages only'); return;
      case OP_TEXT:
        if (this.#fragments) { this.close(1002, 'unexpected new message'); return; }
        if (fin) { this.#deliver(payload); return; }
        this.#fragments = [payload];
        this.#fragmentBytes = payload.length;
        return;
      case OP_CONT:
        if (!this.#fragments) { this.close(1002, 'continuation without a message'); return; }
        this.#fragmentBytes += payload.length;
        if (this.#fragmentBytes > this.#maxMessage) { this.close(1009, 'message too big'); return; }
        this.#fragments.push(payload);
        if (fin) {
          const whole = Buffer.concat(this.#fragments);
          this.#fragments = undefined;
          this.#deliver(whole);
        }
        return;
      default:
        this.close(1002, 'unknown opcode');
    }
  }

  #deliver(payload: Buffer): void {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    } catch {
      this.close(1007, 'invalid UTF-8');
      return;
    }
    this.#events.text(text);
  }
}
