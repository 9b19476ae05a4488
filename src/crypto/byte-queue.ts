/** FIFO of buffers that hands out byte ranges as subarrays, copying only when asked to. */
export class ByteQueue {
  #bufs: Buffer[] = [];
  #head = 0;
  #len = 0;

  get length(): number { return this.#len; }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.#bufs.push(b);
    this.#len += b.length;
  }

  /** Removes the first `n` bytes, returned as subarrays of the queued buffers (no copy). */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const b = this.#bufs[0]!;
      const avail = b.length - this.#head;
      if (avail <= need) {
        out.push(this.#head === 0 ? b : b.subarray(this.#head));
        this.#bufs.shift();
        this.#head = 0;
        need -= avail;
      } else {
        out.push(b.subarray(this.#head, this.#head + need));
        this.#head += need;
        need = 0;
      }
    }
    this.#len -= n;
    return out;
  }

  /** Removes the first `n` bytes as one contiguous buffer (copies only if they span buffers). */
  takeContiguous(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}
