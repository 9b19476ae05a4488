import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { normalizeS3Options, s3OptionsFromConfig, type S3StoreOptions } from '../../src/storage/s3-config.ts';

const ok: S3StoreOptions = {
  endpoint: 'http://127.0.0.1:7480', region: 'us-east-1', bucket: 'coffer-data',
  accessKeyId: 'AK', secretAccessKey: 'SK', forcePathStyle: true,
};

test('S3 options: defaults (blobs/ prefix, 8 MiB parts, 4 in flight)', () => {
  const o = normalizeS3Options(ok);
  assert.equal(o.prefix, 'blobs/');
  assert.equal(o.partSize, 8 * 1024 * 1024);
  assert.equal(o.queueSize, 4);
  const store = new S3BlobStore(ok);
  assert.equal(store.keyOf('0123456789abcdef0123456789abcdef'), 'blobs/01/23/0123456789abcdef0123456789abcdef');
  assert.equal(new S3BlobStore({ ...ok, prefix: '' }).keyOf('abcdef0123456789'), 'ab/cd/abcdef0123456789');
  store.destroy();
});

test('S3 options: the config file section maps over', () => {
  const o = s3OptionsFromConfig({ endpoint: 'https://s3.example', bucket: 'b-1', region: 'eu-1', accessKey: 'A', secretKey: 'S', pathStyle: false });
  assert.deepEqual(o, { endpoint: 'https://s3.example', region: 'eu-1', bucket: 'b-1', accessKeyId: 'A', secretAccessKey: 'S', forcePathStyle: false, prefix: undefined });
});

test('S3 options: bad values are ConfigErrors that say what is wrong', () => {
  const bad: Array<[Partial<S3StoreOptions>, RegExp]> = [
    [{ prefix: 'blobs' }, /prefix/],
    [{ prefix: '/blobs/' }, /prefix/],
    [{ bucket: 'Has_Upper' }, /bucket name/],
    [{ endpoint: 'not a url' }, /not a URL/],
    [{ endpoint: 'ftp://x' }, /http/],
    [{ endpoint: 'http://user:pw@host' }, /credentials/],
    [{ secretAccessKey: '' }, /secret key/],
    [{ partSize: 1024 * 1024 }, /part size/],
    [{ queueSize: 0 }, /queue size/],
  ];
  for (const [patch, msg] of bad) {
    assert.throws(() => normalizeS3Options({ ...ok, ...patch }), (err: unknown) => err instanceof ConfigError && msg.test(err.message), JSON.stringify(patch));
  }
});
