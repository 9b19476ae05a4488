import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyS3Error, explainS3Failure } from './s3-errors.ts';

/**
 * What `./occ storage:test` and the installer ask of an S3 bucket: that it exists, and that the
 * credentials can put, get and delete an object (a 32-byte probe under `prefix`, removed again).
 * Never throws for S3 failures; never puts the keys into a message.
 * @returns problems in plain words (bucket missing, access denied, wrong secret, unknown access key,
 *   endpoint unreachable, content altered on the way); empty when all is well.
 */
export async function checkS3Access(client: S3Client, bucket: string, prefix: string, endpoint: string): Promise<string[]> {
  const explain = (what: string, err: unknown) => `${what}: ${explainS3Failure(classifyS3Error(err), bucket, endpoint, err)}`;
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const kind = classifyS3Error(err);
    // HeadBucket answers a bare 404 / 403 without an error code
    if (kind === 'no-such-key' || kind === 'no-such-bucket') return [`the bucket "${bucket}" does not exist at ${endpoint || 'AWS S3'} (create it, or fix the bucket name)`];
    return [explain('cannot open the bucket', err)];
  }
  const problems: string[] = [];
  const key = `${prefix}.probe-${randomBytes(8).toString('hex')}`;
  const body = randomBytes(32);
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
  } catch (err) {
    return [explain('cannot write to the bucket', err)];
  }
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const got = Buffer.from(await res.Body!.transformToByteArray());
    if (!got.equals(body)) problems.push('reading back a probe object returned different bytes (a proxy or gateway alters content)');
  } catch (err) {
    problems.push(explain('cannot read from the bucket', err));
  }
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    problems.push(explain(`cannot delete from the bucket (probe object ${key} is left behind)`, err));
  }
  return problems;
}
