import type { PushKind } from './send-queue.ts';

/** What push tells: users to notify, of what kind, and which file ids (files only). */
export interface PushEvent {
  readonly kind: PushKind;
  readonly uids: readonly string[];
  readonly fileIds?: readonly number[];
}

/**
 * The change bus: every server process publishes the changes it made and every process delivers
 * them to the push connections it holds. In one process it is a function call; with several
 * processes or hosts (scale-out) it is Redis pub/sub (redis-change-bus.ts).
 */
export interface ChangeBus {
  /** Best effort: never throws, never waits for delivery. */
  publish(event: PushEvent): void;
  /** Registers a receiver of every event (this process's and, with Redis, everyone's). */
  subscribe(receiver: (event: PushEvent) => void): () => void;
  close(): Promise<void>;
}

/** Checks an event that came from outside the process (Redis); undefined when malformed. */
export function parsePushEvent(raw: unknown): PushEvent | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as Record<string, unknown>;
  if (e.kind !== 'file' && e.kind !== 'activity' && e.kind !== 'notification') return undefined;
  if (!Array.isArray(e.uids) || !e.uids.every((u) => typeof u === 'string')) return undefined;
  if (e.fileIds !== undefined && (!Array.isArray(e.fileIds) || !e.fileIds.every((i) => Number.isSafeInteger(i)))) return undefined;
  return { kind: e.kind, uids: e.uids as string[], ...(e.fileIds ? { fileIds: e.fileIds as number[] } : {}) };
}

/** The bus of a single process. */
export class InProcessChangeBus implements ChangeBus {
  readonly #receivers = new Set<(event: PushEvent) => void>();

  publish(event: PushEvent): void {
    for (const r of this.#receivers) {
      try { r(event); } catch { /* a receiver's failure is its own */ }
    }
  }

  subscribe(receiver: (event: PushEvent) => void): () => void {
    this.#receivers.add(receiver);
    return () => { this.#receivers.delete(receiver); };
  }

  async close(): Promise<void> { this.#receivers.clear(); }
}
