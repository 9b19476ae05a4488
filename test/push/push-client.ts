/** A WebSocket client of the push protocol for the tests (the `ws` package). */
import WebSocket from 'ws';

/** A push client: its messages in order, and a wait for the next one matching. */
export class PushClient {
  readonly messages: string[] = [];
  readonly ws: WebSocket;
  readonly #waiters: Array<{ match: (m: string) => boolean; resolve: (m: string) => void }> = [];
  closed = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const m = data.toString();
      this.messages.push(m);
      const i = this.#waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    });
    this.ws.on('close', () => { this.closed = true; });
    this.ws.on('error', () => {});
  }

  static async login(wsUrl: string, user: string, password: string, listenIds = false): Promise<PushClient> {
    const c = new PushClient(wsUrl);
    await new Promise((resolve, reject) => { c.ws.once('open', resolve); c.ws.once('error', reject); });
    const auth = c.next((m) => m === 'authenticated' || m.startsWith('err:'), 5000);
    c.ws.send(user);
    c.ws.send(password);
    const answer = await auth;
    if (answer !== 'authenticated') throw new Error(answer);
    if (listenIds) c.ws.send('listen notify_file_id');
    return c;
  }

  /** The next message (already received ones that match count too, once). */
  next(match: (m: string) => boolean, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching push message within ${timeoutMs} ms (got: ${this.messages.join(' | ') || 'nothing'})`)), timeoutMs);
      this.#waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  close(): void { this.ws.close(); }
}

