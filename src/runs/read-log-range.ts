import type { Readable } from "node:stream";
import { runLogKey, type ArtifactStore } from "../artifacts/index.js";
import { ArtifactNotFoundError } from "../errors.js";
import type { LogStore } from "./log-store.js";
import { isTerminal, type Run } from "./types.js";

/** Bytes of a run's log from `offset`; `offset` may be later than asked when a skipped part was jumped. */
export interface LogRange {
  offset: number;
  data: Buffer;
}

/**
 * Reads up to `limit` bytes of `run`'s log from `offset`: from the Redis tail when it holds that
 * offset (every service process shares it), else from the full log file (older than the tail, or
 * a flood's sampled-out part), else, for an ended run, from the log stored with its artifacts.
 * When none has it (another process's file, still running), it jumps to the next part the tail has.
 * Empty data at `offset` means nothing more is written yet.
 */
export async function readLogRange(
  deps: { logs: LogStore; artifacts: ArtifactStore },
  run: Pick<Run, "id" | "status" | "logBytes">,
  offset: number,
  limit: number,
): Promise<LogRange> {
  const tail = await deps.logs.readTail(run.id, offset, limit);
  if (tail.data.length > 0) return { offset, data: tail.data };
  if (offset >= run.logBytes) return { offset, data: Buffer.alloc(0) };
  const file = deps.logs.openFile(run.id, offset);
  if (file !== undefined) {
    const data = await readUpTo(file, limit);
    if (data.length > 0) return { offset, data };
  }
  if (isTerminal(run.status)) {
    const stored = await deps.artifacts.get(runLogKey(run.id)).catch((err: unknown) => {
      if (err instanceof ArtifactNotFoundError) return undefined;
      throw err;
    });
    if (stored !== undefined) {
      const data = await readUpTo(stored, limit, offset);
      if (data.length > 0) return { offset, data };
    }
  }
  return { offset: tail.nextOffset ?? run.logBytes, data: Buffer.alloc(0) };
}

/** The first `limit` bytes of `stream` after skipping `skip`; destroys the stream after. */
async function readUpTo(stream: Readable, limit: number, skip = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  let skipped = 0;
  let size = 0;
  try {
    for await (const c of stream) {
      let chunk = c as Buffer;
      if (skipped < skip) {
        const drop = Math.min(skip - skipped, chunk.length);
        skipped += drop;
        chunk = chunk.subarray(drop);
      }
      if (chunk.length === 0) continue;
      parts.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, limit);
}
