import { parsePushEvent, type ChangeBus, type PushEvent } from '../push/change-bus.ts';

/** A worker's change, sent to the primary, which relays it to every other worker (serve-primary.ts). */
export interface PushPublishMessage { coffer: 'push'; event: PushEvent }
/** A sibling's change, relayed by the primary. */
export interface PushRelayMessage { coffer: 'push-relay'; event: PushEvent }

export const isPushPublish = (m: unknown): m is PushPublishMessage => (m as PushPublishMessage | null)?.coffer === 'push';
const isPushRelay = (m: unknown): m is PushRelayMessage => (m as PushRelayMessage | null)?.coffer === 'push-relay';

/**
 * The change bus of `./occ serve --workers N` without Redis: a worker delivers its own changes to
 * the push connections it holds at once and sends them to the primary over the IPC channel; the
 * primary relays them to the other workers. One host only; several hosts need Redis
 * (redis-change-bus.ts), which wins when configured. Like Redis, best effort: a worker that is being
 * replaced misses what was relayed meanwhile (its clients reconnect and poll).
 */
export class IpcChangeBus implements ChangeBus {
  readonly #proc: NodeJS.Process;
  readonly #receivers = new Set<(event: PushEvent) => void>();
  readonly #onMessage = (m: unknown): void => {
    if (!isPushRelay(m)) return;
    const event = parsePushEvent(m.event);
    if (event) this.#deliver(event);
  };

  /** @throws Error when the process has no IPC channel (not a cluster worker). */
  constructor(proc: NodeJS.Process = process) {
    if (!proc.send) throw new Error('IpcChangeBus needs an IPC channel (a cluster worker)');
    this.#proc = proc;
    proc.on('message', this.#onMessage);
  }

  publish(event: PushEvent): void {
    this.#deliver(event);
    if (!this.#proc.connected) return;
    // The callback keeps a send on a channel closing under us from raising an 'error' event.
    this.#proc.send!({ coffer: 'push', event } satisfies PushPublishMessage, undefined, undefined, () => {});
  }

  subscribe(receiver: (event: PushEvent) => void): () => void {
    this.#receivers.add(receiver);
    return () => { this.#receivers.delete(receiver); };
  }

  async close(): Promise<void> {
    this.#proc.off('message', this.#onMessage);
    this.#receivers.clear();
  }

  #deliver(event: PushEvent): void {
    for (const r of this.#receivers) {
      try { r(event); } catch { /* a receiver's failure is its own */ }
    }
  }
}
