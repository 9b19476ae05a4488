import { Redis } from 'ioredis';
import { ConfigError } from '../errors.ts';

/** The `redis` section of config.json. */
export interface RedisSettings {
  readonly host: string;
  readonly port: number;
}

export interface RedisClientOptions {
  /** TCP connect timeout (default 5 s). */
  connectTimeoutMs?: number;
  /** Keys of this instance start with `coffer:<instanceId>:` so one Redis may serve several instances. */
  instanceId: string;
}

/**
 * The one Redis connection of a Coffer process (ioredis, pinned 5.9.3). Commands issued while the
 * connection is down wait in ioredis' offline queue for at most one retry round and then fail,
 * so a dead Redis turns into errors, never into requests that hang.
 */
export class RedisClient {
  readonly redis: Redis;
  /** Prefix of every key this instance writes. */
  readonly prefix: string;
  readonly #where: string;

  constructor(settings: RedisSettings, opts: RedisClientOptions) {
    this.#where = `Redis at ${settings.host}:${settings.port}`;
    this.prefix = `coffer:${opts.instanceId}:`;
    this.redis = new Redis({
      host: settings.host,
      port: settings.port,
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      // back off up to 2 s between reconnects; never give up (the server keeps running)
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    // errors surface through the commands that fail; keep ioredis from printing unhandled events
    this.redis.on('error', () => {});
  }

  /**
   * Connects (idempotent).
   * @throws ConfigError naming the address when Redis cannot be reached.
   */
  async connect(): Promise<void> {
    if (this.redis.status === 'ready' || this.redis.status === 'connecting' || this.redis.status === 'connect') return;
    try {
      await this.redis.connect();
    } catch (err) {
      throw new ConfigError(`Cannot connect to ${this.#where}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Checks that Redis answers and that this instance may write and delete a key.
   * @returns problems in plain words; empty when all is well. Never throws.
   */
  async check(): Promise<string[]> {
    const probe = new Redis({
      host: this.redis.options.host, port: this.redis.options.port,
      lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      try {
        await probe.connect();
      } catch (err) {
        return [`cannot connect to ${this.#where}: ${(err as Error).message} (is redis-server running and bound there?)`];
      }
      const key = `${this.prefix}probe:${process.pid}:${Date.now()}`;
      try {
        const pong = await probe.ping();
        if (pong !== 'PONG') return [`${this.#where} answered PING with "${pong}"`];
        await probe.set(key, '1', 'PX', 10_000);
        if ((await probe.get(key)) !== '1') return [`${this.#where} did not return a value just written`];
        await probe.del(key);
        return [];
      } catch (err) {
        const msg = (err as Error).message;
        if (/NOAUTH/i.test(msg)) return [`${this.#where} requires a password (Coffer supports an unauthenticated Redis on a private network only)`];
        if (/READONLY/i.test(msg)) return [`${this.#where} is a read-only replica; point Coffer at the primary`];
        if (/OOM/i.test(msg)) return [`${this.#where} is out of memory (maxmemory reached): ${msg}`];
        return [`${this.#where} failed a write/read probe: ${msg}`];
      }
    } finally {
      probe.disconnect();
    }
  }

  /** Closes the connection (pending commands fail). */
  async close(): Promise<void> {
    try {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}
