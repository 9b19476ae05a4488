/**
 * The debounce of one push connection, as notify_push does it (src/message.rs, SendQueue): one
 * slot per message type; messages arriving while a slot is held merge (file ids add up, at most
 * MAX_IDS, beyond which the ids become "unknown"); a slot goes out once nothing new arrived for
 * 100 ms and its debounce time has passed since the type was last sent. The debounce time grows
 * with the number of connections (1 s per 10, between 1 s and `maxDebounceSeconds`), times a
 * per-connection factor between 0.5 and 1.5 that spreads the clients' reactions; notifications
 * always debounce 1 s.
 */

export type PushKind = 'file' | 'activity' | 'notification';

/** Most file ids carried in one notify_file_id message. */
export const MAX_IDS = 64;
/** Quiet time before a held message goes out, ms. */
const SETTLE_MS = 100;

interface Slot { received: number; sent: number; held: boolean; ids: number[] | null }

export class SendQueue {
  readonly #slots: Record<PushKind, Slot>;
  readonly #factor: number;
  readonly #maxDebounceSeconds: number;

  constructor(factor: number, maxDebounceSeconds: number) {
    this.#factor = factor;
    this.#maxDebounceSeconds = maxDebounceSeconds;
    const fresh = (): Slot => ({ received: -Infinity, sent: -Infinity, held: false, ids: [] });
    this.#slots = { file: fresh(), activity: fresh(), notification: fresh() };
  }

  /** Holds a message; `fileIds` undefined means "some file changed" (the ids are unknown). */
  push(kind: PushKind, now: number, fileIds?: readonly number[]): void {
    const s = this.#slots[kind];
    if (!s.held) { s.held = true; s.ids = []; }
    if (fileIds === undefined || s.ids === null) s.ids = null;
    else {
      for (const id of fileIds) if (!s.ids.includes(id)) s.ids.push(id);
      if (s.ids.length > MAX_IDS) s.ids = null;
    }
    s.received = now;
  }

  /** Whether anything is held (the hub only visits connections that have). */
  get pending(): boolean {
    return this.#slots.file.held || this.#slots.activity.held || this.#slots.notification.held;
  }

  /** The messages due at `now`, taken out of the queue. `ids` null: unknown. */
  drain(now: number, connections: number): Array<{ kind: PushKind; ids: number[] | null }> {
    const out: Array<{ kind: PushKind; ids: number[] | null }> = [];
    for (const kind of ['file', 'activity', 'notification'] as const) {
      const s = this.#slots[kind];
      if (!s.held) continue;
      if (now - s.sent <= this.#debounceMs(kind, connections) || now - s.received <= SETTLE_MS) continue;
      out.push({ kind, ids: s.ids });
      s.held = false;
      s.ids = [];
      s.sent = now;
    }
    return out;
  }

  #debounceMs(kind: PushKind, connections: number): number {
    if (kind === 'notification') return 1000;
    const seconds = Math.max(1, Math.min(Math.floor(connections / 10), this.#maxDebounceSeconds));
    return seconds * 1000 * this.#factor;
  }
}
