import type { AgentClient } from "./client.js";

export interface LogShipperOptions {
  /** Flush at least this often while output arrives (default 200 ms). */
  flushIntervalMs?: number;
  /** Send at most this much per request (default 1 MiB). */
  maxBatchBytes?: number;
  /** A partial line longer than this is sent without waiting for its newline (default 64 KiB). */
  maxPartialLineBytes?: number;
  /** Above this much unsent output, `write` returns false so producers pause (default 16 MiB). */
  highWaterBytes?: number;
}

/**
 * Ships the workflow's output to the service in order, line-aligned batches, one request in
 * flight, each tagged with its byte offset so a retried request is never appended twice.
 * Best effort by design: a log that cannot be delivered never fails the run (actions/toolkit's
 * toolrunner makes the same choice).
 */
export class LogShipper {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private drainWaiters: Array<() => void> = [];
  private readonly flushIntervalMs: number;
  private readonly maxBatchBytes: number;
  private readonly maxPartialLineBytes: number;
  private readonly highWaterBytes: number;
  /** Bytes that could not be delivered (the service was unreachable past retries). */
  droppedBytes = 0;

  constructor(
    private readonly client: Pick<AgentClient, "postBytes">,
    options: LogShipperOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    this.maxPartialLineBytes = options.maxPartialLineBytes ?? 64 * 1024;
    this.highWaterBytes = options.highWaterBytes ?? 16 * 1024 * 1024;
  }

  /** Queues bytes; returns false when the producer should wait for `drained()`. */
  write(chunk: Buffer | string): boolean {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return true;
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= this.maxBatchBytes) this.kick(false);
    else this.timer ??= setTimeout(() => this.kick(false), this.flushIntervalMs);
    return this.pendingBytes < this.highWaterBytes;
  }

  /** Resolves when unsent output is below the high-water mark. */
  drained(): Promise<void> {
    if (this.pendingBytes < this.highWaterBytes) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sends everything, partial last line included. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.inflight !== undefined) await this.inflight;
      if (this.pendingBytes === 0) return;
      this.kick(true);
    }
  }

  private kick(final: boolean): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inflight !== undefined) return;
    const batch = this.take(final);
    if (batch === undefined) {
      if (this.pendingBytes > 0) this.timer = setTimeout(() => this.kick(true), this.flushIntervalMs);
      return;
    }
    this.inflight = this.send(batch).finally(() => {
      this.inflight = undefined;
      if (this.pendingBytes < this.highWaterBytes) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
      if (this.pendingBytes >= this.maxBatchBytes) this.kick(false);
      else if (this.pendingBytes > 0) this.timer ??= setTimeout(() => this.kick(false), this.flushIntervalMs);
    });
  }

  /**
   * Takes up to maxBatchBytes ending at a newline (or everything when `final`). Only the chunks
   * the batch needs are joined: joining the whole backlog (up to highWaterBytes) for every batch
   * copied 16 times the log's size.
   */
  private take(final: boolean): Buffer | undefined {
    if (this.pendingBytes === 0) return undefined;
    let count = 0;
    let bytes = 0;
    while (count < this.pending.length && bytes < this.maxBatchBytes) bytes += (this.pending[count++] as Buffer).length;
    const head = count === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending.slice(0, count), bytes);
    const everything = count === this.pending.length;
    let end = Math.min(head.length, this.maxBatchBytes);
    if (!(final && everything && end === head.length)) {
      const nl = head.lastIndexOf(0x0a, end - 1);
      if (nl >= 0) end = nl + 1;
      else if (end < this.maxPartialLineBytes && !final) {
        this.pending.splice(0, count, head);
        return undefined;
      }
    }
    const batch = head.subarray(0, end);
    const rest = head.subarray(end);
    this.pending.splice(0, count, ...(rest.length > 0 ? [rest] : []));
    this.pendingBytes -= batch.length;
    return batch;
  }

  private async send(batch: Buffer): Promise<void> {
    const offset = this.offset;
    this.offset += batch.length;
    try {
      await this.client.postBytes("/logs", batch, { "content-type": "application/octet-stream", "x-dstack-offset": String(offset) });
    } catch {
      // Delivery failed after retries: keep running; the service reports the gap by offset.
      this.droppedBytes += batch.length;
    }
  }
}
