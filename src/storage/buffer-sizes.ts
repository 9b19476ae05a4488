/**
 * The buffer sizes of the content path, in one place because together they bound the memory a
 * transfer holds, whatever the file's size.
 *
 * Every stage of a transfer buffers up to STREAM_BUFFER bytes before it pauses its source (a
 * Transform on each of its two sides): the socket and the request or response stream, the cipher
 * stream, the checksum stream, the length check, the file read stream, the file sink's write batch.
 * A GET of an encrypted file passes file read (1) → decrypt (2) → length check (2) → response (1),
 * a PUT request (1) → checksums (2) → encrypt (2) → write batches (2): about 6 MiB and 7 MiB per
 * transfer. A GET of a plain local blob holds two reused buffers (FileRangeStream.sendTo). An S3 upload adds its part buffers ((queueSize + 1) × partSize, s3-config.ts).
 *
 * 1 MiB rather than Node's 16–64 KiB: a download then reaches the socket as one writev per MiB
 * instead of one write per 64 KiB piece, and an upload is written in one writev per MiB.
 */
export const STREAM_BUFFER = 1 << 20;

/**
 * Blobs up to this size are handled whole in memory instead of streamed: written with one writev,
 * read with the header in one positioned read, encrypted in one go, converted synchronously by
 * encrypt-all. Bounds the memory of one small write or read by the same 1 MiB.
 */
export const SMALL_BLOB = 1 << 20;
