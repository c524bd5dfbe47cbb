import { createReadStream, existsSync } from "node:fs";
import { mkdir, open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type { Redis } from "ioredis";

/**
 * Of one append, at most its last this-many bytes go to Redis (from a line start). Normal output
 * comes in far smaller appends and is kept whole; a flood (a workflow printing MB/s) keeps its
 * full text in the file while Redis, shared by every run, holds a sampled tail: readers see the
 * jump in offsets and say what they skipped.
 */
const REDIS_APPEND_BYTES = 256 * 1024;
/** Bytes of log the Redis tail keeps per run (whole entries; approximate trimming may keep a little more). */
const TAIL_KEEP_BYTES = 4 * 1024 * 1024;

/**
 * A run's log: the full text appended to a file under the data dir, and its last few MiB in a
 * Redis stream (`{prefix}:log:{runId}`, entries `{o: offset, d: bytes}`) that every service process
 * can read for check-run tails and live follow. An entry's id is `<byte offset>-1`, so the stream
 * is trimmed by bytes (`MINID`), not by entry count: a slow log keeps as much tail as a flood, and
 * a replayed append at an offset already stored is refused by Redis instead of duplicated.
 * Redis never holds more than ~4 MiB a run (TECH-NOTES: a 200 MB log in a stream costs 240 MB).
 */
export class LogStore {
  private readonly handles = new Map<string, Promise<FileHandle>>();

  constructor(private readonly deps: { redis: Redis; prefix: string; dir: string }) {}

  streamKey(runId: string): string {
    return `${this.deps.prefix}:log:${runId}`;
  }

  filePath(runId: string): string {
    return path.join(this.deps.dir, `${runId}.log`);
  }

  /** Appends masked bytes at `offset` (the log's length before them). */
  async append(runId: string, offset: number, data: Buffer): Promise<void> {
    if (data.length === 0) return;
    const fh = await this.handle(runId);
    await fh.write(data, 0, data.length, offset);
    const minId = Math.max(0, offset + data.length - TAIL_KEEP_BYTES);
    let at = 0;
    if (data.length > REDIS_APPEND_BYTES) {
      at = data.length - REDIS_APPEND_BYTES;
      const nl = data.indexOf(0x0a, at - 1);
      if (nl !== -1 && nl + 1 < data.length) at = nl + 1;
    }
    try {
      await this.deps.redis.xadd(this.streamKey(runId), "MINID", "~", `${minId}-0`, `${offset + at}-1`, "o", String(offset + at), "d", data.subarray(at));
    } catch (err) {
      // The same bytes stored already (a retried request that raced its original): nothing to add.
      if (!(err instanceof Error && /equal or smaller/.test(err.message))) throw err;
    }
  }

  /**
   * The last `maxBytes` of the log from the Redis tail, with the offset it starts at: contiguous
   * bytes only (it stops at a flood's skipped part).
   */
  async tail(runId: string, maxBytes: number): Promise<{ offset: number; data: Buffer }> {
    const parts: Buffer[] = [];
    let bytes = 0;
    let offset = 0;
    let end = "+";
    let count = 2;
    let gap = false;
    while (bytes < maxBytes && !gap) {
      const entries = (await this.deps.redis.xrevrangeBuffer(this.streamKey(runId), end, "-", "COUNT", count)) as Array<[Buffer, Buffer[]]>;
      if (entries.length === 0) break;
      for (const [id, fields] of entries) {
        const f = fieldsOf(fields);
        if (parts.length > 0 && f.o + f.d.length !== offset) {
          gap = true;
          break;
        }
        parts.unshift(f.d);
        bytes += f.d.length;
        offset = f.o;
        end = `(${id.toString()}`;
        if (bytes >= maxBytes) break;
      }
      if (entries.length < count) break;
      count = Math.min(count * 4, 256); // small entries (a slow log): read more at a time
    }
    const data = Buffer.concat(parts);
    if (data.length <= maxBytes) return { offset, data };
    return { offset: offset + data.length - maxBytes, data: data.subarray(data.length - maxBytes) };
  }

  /**
   * Up to `maxBytes` contiguous bytes of the log starting exactly at `offset`, from the Redis tail;
   * empty when the tail does not hold that offset (older than the tail, in a flood's skipped part,
   * or not written yet). `nextOffset` is where the tail holds data after `offset`, when it does
   * (a reader past a skipped part jumps there).
   */
  async readTail(runId: string, offset: number, maxBytes: number): Promise<{ data: Buffer; nextOffset?: number }> {
    const key = this.streamKey(runId);
    const parts: Buffer[] = [];
    let cursor = offset;
    let bytes = 0;
    const before = (await this.deps.redis.xrevrangeBuffer(key, `${offset}-1`, "-", "COUNT", 1)) as Array<[Buffer, Buffer[]]>;
    const first = before[0];
    if (first !== undefined) {
      const f = fieldsOf(first[1]);
      if (f.o + f.d.length > offset) {
        parts.push(f.d.subarray(offset - f.o));
        bytes += f.d.length - (offset - f.o);
        cursor = f.o + f.d.length;
      }
    }
    let from = `(${offset}-1`;
    let nextOffset: number | undefined;
    while (bytes < maxBytes) {
      const entries = (await this.deps.redis.xrangeBuffer(key, from, "+", "COUNT", 64)) as Array<[Buffer, Buffer[]]>;
      let gap = false;
      for (const [id, fields] of entries) {
        const f = fieldsOf(fields);
        if (f.o !== cursor) {
          if (parts.length === 0) nextOffset = f.o;
          gap = true;
          break;
        }
        parts.push(f.d);
        bytes += f.d.length;
        cursor += f.d.length;
        from = `(${id.toString()}`;
        if (bytes >= maxBytes) break;
      }
      if (gap || entries.length < 64) break;
    }
    const data = Buffer.concat(parts);
    return { data: data.length > maxBytes ? data.subarray(0, maxBytes) : data, ...(nextOffset !== undefined ? { nextOffset } : {}) };
  }

  /** Entries after stream id `afterId` (`0` for all kept), for live follow. */
  async readAfter(runId: string, afterId: string, blockMs?: number): Promise<Array<{ id: string; offset: number; data: Buffer }>> {
    const args: (string | number)[] = ["COUNT", 256];
    if (blockMs !== undefined) args.push("BLOCK", blockMs);
    const res = (await this.deps.redis.xreadBuffer(
      ...(args as ["COUNT", number]),
      "STREAMS",
      this.streamKey(runId),
      afterId,
    )) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
    if (res === null || res[0] === undefined) return [];
    return res[0][1].map(([id, fields]) => {
      const f = fieldsOf(fields);
      return { id: id.toString(), offset: f.o, data: f.d };
    });
  }

  /** The full log from the local file, if this process's data dir has it. */
  openFile(runId: string, start = 0): Readable | undefined {
    const file = this.filePath(runId);
    return existsSync(file) ? createReadStream(file, { start }) : undefined;
  }

  /** Closes the file of a finished run and lets its Redis tail expire after `ttlSeconds`. */
  async finish(runId: string, ttlSeconds = 7 * 24 * 3600): Promise<void> {
    const h = this.handles.get(runId);
    this.handles.delete(runId);
    if (h !== undefined) await (await h).close();
    await this.deps.redis.expire(this.streamKey(runId), ttlSeconds);
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(all.map(async (h) => (await h).close()));
  }

  private handle(runId: string): Promise<FileHandle> {
    let h = this.handles.get(runId);
    if (h === undefined) {
      h = (async () => {
        await mkdir(this.deps.dir, { recursive: true });
        return open(this.filePath(runId), existsSync(this.filePath(runId)) ? "r+" : "w+");
      })();
      this.handles.set(runId, h);
    }
    return h;
  }
}

function fieldsOf(fields: Buffer[]): { o: number; d: Buffer } {
  let o = 0;
  let d: Buffer = Buffer.alloc(0);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]?.toString();
    const value = fields[i + 1] ?? Buffer.alloc(0);
    if (name === "o") o = Number(value.toString());
    else if (name === "d") d = value;
  }
  return { o, d };
}
