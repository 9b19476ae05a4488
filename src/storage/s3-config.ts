import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.ts';

/** Everything S3BlobStore needs to reach its bucket. */
export interface S3StoreOptions {
  /** e.g. `http://127.0.0.1:7480`; omit for AWS S3 itself. */
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  /** Never logged. */
  readonly secretAccessKey: string;
  /** Path-style URLs (`endpoint/bucket/key`); Ceph RGW and MinIO need it. */
  readonly forcePathStyle: boolean;
  /** Key prefix of every blob, e.g. `blobs/` (default). Must be empty or end with `/`. */
  readonly prefix?: string;
  /** Multipart part size in bytes (default 8 MiB, at least 5 MiB). */
  readonly partSize?: number;
  /** Parts in flight per upload (default 4); memory per upload ≈ (queueSize + 1) × partSize. */
  readonly queueSize?: number;
  /** TCP connect timeout (default 5 s). */
  readonly connectionTimeoutMs?: number;
  /**
   * A request whose socket stays silent this long fails with a TimeoutError (default 5 min; long,
   * because a GET body idles while a slow client reads).
   */
  readonly socketTimeoutMs?: number;
  /** Open sockets to the endpoint (default 64). */
  readonly maxSockets?: number;
  /**
   * Send bodies with `x-amz-content-sha256: UNSIGNED-PAYLOAD` instead of hashing every byte into the
   * signature (saves one SHA-256 pass on each side). Default: on for https endpoints (TLS protects the
   * body), off for plain http.
   */
  readonly unsignedPayload?: boolean;
  /** Keys per ListObjectsV2 page (default 1000; tests use small pages). */
  readonly listPageSize?: number;
}

/** The `storage` section of config.json when `type` is `s3` (see src/config/config.ts). */
export interface S3StorageConfig {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly pathStyle: boolean;
  readonly prefix?: string;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 4;
export const DEFAULT_PREFIX = 'blobs/';

/** Maps the config file's storage section to store options. */
export function s3OptionsFromConfig(c: S3StorageConfig): S3StoreOptions {
  return {
    endpoint: c.endpoint,
    region: c.region,
    bucket: c.bucket,
    accessKeyId: c.accessKey,
    secretAccessKey: c.secretKey,
    forcePathStyle: c.pathStyle,
    prefix: c.prefix,
  };
}

/**
 * Checks the options and fills in defaults.
 * @throws ConfigError naming the bad option.
 */
export function normalizeS3Options(o: S3StoreOptions): Required<S3StoreOptions> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  if (prefix !== '' && (!prefix.endsWith('/') || prefix.startsWith('/'))) {
    throw new ConfigError(`S3 key prefix must be empty or end with "/" (and not start with one), got "${prefix}"`);
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) {
    throw new ConfigError(`S3 bucket name "${o.bucket}" is not valid (3–63 lowercase letters, digits, dots, hyphens)`);
  }
  if (o.endpoint !== undefined && o.endpoint !== '') {
    let url: URL;
    try { url = new URL(o.endpoint); } catch { throw new ConfigError(`S3 endpoint "${o.endpoint}" is not a URL`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`S3 endpoint must be http(s), got "${o.endpoint}"`);
    if (url.username || url.password) throw new ConfigError('S3 endpoint must not contain credentials; use the access key options');
  }
  if (!o.accessKeyId || !o.secretAccessKey) throw new ConfigError('S3 access key and secret key are required');
  const partSize = o.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) throw new ConfigError(`S3 part size must be at least ${MIN_PART_SIZE} bytes`);
  const queueSize = o.queueSize ?? DEFAULT_QUEUE_SIZE;
  if (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > 32) throw new ConfigError('S3 queue size must be 1–32');
  return {
    endpoint: o.endpoint ?? '',
    region: o.region || 'us-east-1',
    bucket: o.bucket,
    accessKeyId: o.accessKeyId,
    secretAccessKey: o.secretAccessKey,
    forcePathStyle: o.forcePathStyle,
    prefix,
    partSize,
    queueSize,
    connectionTimeoutMs: o.connectionTimeoutMs ?? 5000,
    maxSockets: o.maxSockets ?? 64,
    socketTimeoutMs: o.socketTimeoutMs ?? 300_000,
    listPageSize: o.listPageSize ?? 1000,
    unsignedPayload: o.unsignedPayload ?? !(o.endpoint ?? '').startsWith('http:'),
  };
}

/**
 * An S3 client for the options. Checksums only when the API requires them: Ceph RGW 16.2 rejects
 * the SDK's default streaming checksums (MissingContentLength) and returns no CRCs to validate.
 */
export function createS3Client(o: Required<S3StoreOptions>): S3Client {
  const client = new S3Client({
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    region: o.region,
    credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
    forcePathStyle: o.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: o.connectionTimeoutMs,
      socketTimeout: o.socketTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets: o.maxSockets },
      httpsAgent: { keepAlive: true, maxSockets: o.maxSockets },
    },
  });
  if (o.unsignedPayload) {
    // before signing: the signer takes a present x-amz-content-sha256 header as the payload hash
    client.middlewareStack.add((next) => async (args) => {
      const req = args.request as { headers?: Record<string, string> } | undefined;
      if (req?.headers) req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    }, { step: 'build', name: 'cofferUnsignedPayload' });
  }
  return client;
}
