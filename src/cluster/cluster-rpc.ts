import type { Worker } from 'node:cluster';

/** A call from a worker to an object the primary holds (IPC message, JSON-serialized by Node). */
interface RpcRequest { coffer: 'rpc'; id: number; service: string; method: string; args: unknown[] }
interface RpcReply { coffer: 'rpc-reply'; id: number; ok: boolean; value?: unknown; error?: string }

const isRequest = (m: unknown): m is RpcRequest => (m as RpcRequest | null)?.coffer === 'rpc';
const isReply = (m: unknown): m is RpcReply => (m as RpcReply | null)?.coffer === 'rpc-reply';

/**
 * Primary side: answers `worker`'s calls on `services` (name → object whose methods return
 * promises of JSON-serializable values). Unknown services or methods answer an error; a method's
 * rejection is passed on as its message only.
 */
export function serveRpc(worker: Worker, services: Readonly<Record<string, object>>): void {
  worker.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    const reply = (r: Omit<RpcReply, 'coffer' | 'id'>) => {
      if (worker.isConnected()) worker.send({ coffer: 'rpc-reply', id: m.id, ...r } satisfies RpcReply);
    };
    const target = Object.hasOwn(services, m.service) ? services[m.service] as Record<string, unknown> : undefined;
    const fn = target?.[m.method];
    if (typeof fn !== 'function' || m.method.startsWith('#') || m.method === 'constructor') {
      reply({ ok: false, error: `no such call ${m.service}.${m.method}` });
      return;
    }
    Promise.resolve()
      .then(() => (fn as (...a: unknown[]) => unknown).apply(target, m.args))
      .then((value) => reply({ ok: true, value }), (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }));
  });
}

/** Raised in a worker when the primary answered a call with an error. */
export class RpcError extends Error {}

/**
 * Worker side: calls methods of objects the primary serves (serveRpc). Needs an IPC channel
 * (a cluster worker); a worker whose primary went away exits (Node's cluster does that).
 */
export class RpcClient {
  readonly #proc: NodeJS.Process;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #seq = 0;
  #listening = false;

  constructor(proc: NodeJS.Process = process) {
    if (!proc.send) throw new Error('RpcClient needs an IPC channel (a cluster worker)');
    this.#proc = proc;
  }

  /**
   * Calls `service.method(...args)` in the primary.
   * @throws RpcError with the primary's message when the call failed there.
   */
  call(service: string, method: string, args: unknown[]): Promise<unknown> {
    this.#listen();
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#proc.send!({ coffer: 'rpc', id, service, method, args } satisfies RpcRequest);
    });
  }

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.#proc.on('message', (m: unknown) => {
      if (!isReply(m)) return;
      const w = this.#waiting.get(m.id);
      if (!w) return;
      this.#waiting.delete(m.id);
      if (m.ok) w.resolve(m.value); else w.reject(new RpcError(m.error));
    });
  }
}
