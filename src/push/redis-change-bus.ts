import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import type { RedisClient } from '../redis/redis-client.ts';
import { parsePushEvent, type ChangeBus, type PushEvent } from './change-bus.ts';

/**
 * The change bus of several processes or hosts: Redis pub/sub on `coffer:<instanceid>:push`.
 * Events go out on the shared connection and come back to every process, this one included,
 * through a second connection in subscriber mode (opened on the first subscribe). A Redis that is
 * down loses notifications (clients still poll); it never fails a write.
 */
export class RedisChangeBus implements ChangeBus {
  readonly #client: RedisClient;
  readonly #channel: string;
  readonly #log: Logger;
  readonly #receivers = new Set<(event: PushEvent) => void>();
  #sub: Redis | undefined;
  /** Publishes not yet handed to Redis (close waits for them: a ./occ command's event must not be lost on exit). */
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(client: RedisClient, log: Logger) {
    this.#client = client;
    this.#channel = `${client.prefix}push`;
    this.#log = log;
  }

  publish(event: PushEvent): void {
    const p = this.#client.connect()
      .then(() => this.#client.redis.publish(this.#channel, JSON.stringify(event)))
      .catch((err: unknown) => this.#log.warn({ err }, 'push: could not publish a change to Redis'))
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  subscribe(receiver: (event: PushEvent) => void): () => void {
    this.#receivers.add(receiver);
    if (!this.#sub) this.#listen();
    return () => { this.#receivers.delete(receiver); };
  }

  #listen(): void {
    const sub = this.#client.redis.duplicate({ lazyConnect: false });
    this.#sub = sub;
    sub.on('error', () => {}); // reconnects by itself; the publish side logs
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.#channel) return;
      let event: PushEvent | undefined;
      try { event = parsePushEvent(JSON.parse(message)); } catch { event = undefined; }
      if (!event) { this.#log.warn('push: a malformed message on the Redis channel was ignored'); return; }
      for (const r of this.#receivers) {
        try { r(event); } catch { /* a receiver's failure is its own */ }
      }
    });
    sub.subscribe(this.#channel).catch((err: unknown) => this.#log.warn({ err }, 'push: could not subscribe to Redis'));
  }

  /** Resolves once the subscription is active (tests and start-up). */
  async ready(): Promise<void> {
    if (!this.#sub) this.#listen();
    await this.#sub!.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#inFlight]);
    this.#receivers.clear();
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
