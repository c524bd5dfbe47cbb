import type { ServerResponse } from "node:http";
import { StringDecoder } from "node:string_decoder";
import type { Redis } from "ioredis";
import type { Router } from "../../http/router.js";
import { readLogRange } from "../../runs/read-log-range.js";
import { isTerminal, type Run } from "../../runs/types.js";
import { principalOf, requireApiToken, requireRun } from "./api-auth.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { runJson } from "./run-json.js";
import { LogQuery, parseInput, queryOf } from "./schemas.js";

/** How long a follower waits on Redis for new log before it looks at the run's status again. */
const FOLLOW_BLOCK_MS = 500;
/** Bytes a follower reads at a time. */
const FOLLOW_CHUNK_BYTES = 256 * 1024;

/**
 * A run's log: a range (`?offset=&limit=`, raw bytes; `x-dstack-offset` says where they start,
 * `x-dstack-next-offset` where to ask next), or a live follow (`?follow=true`) that streams from
 * `offset` until the run ends: chunked `text/plain`, or Server-Sent Events when the client accepts
 * `text/event-stream` (events `log` with `{offset, text}`, id = the next offset, so `Last-Event-ID`
 * resumes; `status` with the run as `GET /api/v1/runs/:id` gives it, when the follow starts and
 * whenever its state changes, so the run page's timeline follows without polling; then one `end`
 * event with the run's status).
 */
export function mountLogsRoutes(router: Router, deps: ApiV1Deps): void {
  router.add(
    "GET",
    "/api/v1/runs/:id/logs",
    requireApiToken(deps, async (ctx) => {
      const q = parseInput(LogQuery, queryOf(ctx.url), "query");
      const run = (await requireRun(deps, principalOf(ctx), ctx.params.id ?? "", "read")).run;
      if (q.follow === "true" || q.follow === "1") {
        const lastEventId = Number(ctx.req.headers["last-event-id"]);
        const offset = Number.isSafeInteger(lastEventId) && lastEventId >= 0 ? lastEventId : q.offset;
        const sse = (ctx.req.headers.accept ?? "").includes("text/event-stream");
        await follow(deps, ctx.res, run.id, offset, sse);
        return;
      }
      const range = await readLogRange(deps, run, q.offset, q.limit);
      ctx.res.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": range.data.length,
        "x-dstack-offset": String(range.offset),
        "x-dstack-next-offset": String(range.offset + range.data.length),
        "x-dstack-log-bytes": String(run.logBytes),
        "x-dstack-run-status": run.status,
        "x-content-type-options": "nosniff",
      });
      ctx.res.end(range.data);
    }),
  );
}

async function follow(deps: ApiV1Deps, res: ServerResponse, runId: string, start: number, sse: boolean): Promise<void> {
  res.writeHead(200, {
    "content-type": sse ? "text/event-stream; charset=utf-8" : "text/plain; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
    "x-dstack-offset": String(start),
    "x-content-type-options": "nosniff",
  });
  res.flushHeaders();
  let closed = false;
  let waiter: Redis | undefined;
  res.on("close", () => {
    closed = true;
    waiter?.disconnect();
  });
  const decoder = new StringDecoder("utf8");
  let offset = start;
  let shownState: string | undefined;
  try {
    while (!closed) {
      const run = await deps.store.get(runId);
      // The status is read before the log: a run that had ended then has all its log written.
      const ended = isTerminal(run.status);
      const state = sse ? stateKey(run) : shownState;
      if (state !== shownState) {
        shownState = state;
        // No `id:` line: the last event id stays the log offset, so a reconnect resumes the log where it was.
        if (!res.write(`event: status\ndata: ${JSON.stringify(runJson(run, deps.publicUrl, (deps.now ?? Date.now)()))}\n\n`)) await drainOrClose(res);
      }
      const range = await readLogRange(deps, run, offset, FOLLOW_CHUNK_BYTES);
      if (range.data.length > 0) {
        offset = range.offset + range.data.length;
        const text = sse ? `id: ${offset}\nevent: log\ndata: ${JSON.stringify({ offset: range.offset, text: decoder.write(range.data) })}\n\n` : range.data;
        if (!res.write(text)) await drainOrClose(res);
        continue;
      }
      if (range.offset > offset) {
        offset = range.offset;
        continue;
      }
      if (ended) {
        if (sse) res.write(`event: end\ndata: ${JSON.stringify({ status: run.status, reason: run.reason ?? null, offset })}\n\n`);
        break;
      }
      // Wait for the next entry at or after `offset` on a connection of its own: XREAD BLOCK would
      // hold up every other command on the shared one.
      if (waiter === undefined) {
        waiter = deps.redis.duplicate();
        // Errors surface as the XREAD's rejection; an unhandled 'error' event would crash the process.
        waiter.on("error", () => undefined);
      }
      await waiter.xread("COUNT", 1, "BLOCK", FOLLOW_BLOCK_MS, "STREAMS", deps.logs.streamKey(runId), `${offset}-0`).catch((err: unknown) => {
        if (!closed) throw err;
      });
    }
  } finally {
    waiter?.disconnect();
    if (!closed) res.end();
  }
}

/**
 * What a `status` event reports, as one comparable string: the states and their times, the machine,
 * attempts, the outcome. Log bytes and heartbeats are left out: they change all the time, and the
 * `log` events carry the log.
 */
function stateKey(run: Run): string {
  return JSON.stringify([
    run.status,
    run.reason,
    run.transitions?.length,
    run.machine,
    run.agentContactAt,
    run.provisioningNotes?.length,
    run.attempts?.length,
    run.interruption,
    run.approval?.state,
    run.exitCode,
    run.finishedAt,
    run.artifacts.length,
    run.tags,
  ]);
}

/** Waits until `res` can take more or the client went away, leaving no listener behind (a long follow waits often). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
