import { StringDecoder } from "node:string_decoder";
import type { RunJson } from "../api/v1/run-json.js";
import { DstackError } from "../errors.js";
import type { ApiClient } from "./api-client.js";
import type { CommandContext } from "./command-context.js";
import type { ExitCode } from "./exit-code.js";
import { onInterrupt } from "./on-interrupt.js";
import { reportEnd } from "./report-end.js";
import { ServerUnreachableError } from "./server-unreachable-error.js";

const TERMINAL = new Set(["done", "failed", "stopped", "timed_out"]);
/** Reconnects after a dropped follow, waiting longer each time, before giving up (about a minute in all). */
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000];

export async function getRun(client: ApiClient, runId: string): Promise<RunJson> {
  return (await client.json<{ run: RunJson }>(`/api/v1/runs/${encodeURIComponent(runId)}`)).run;
}

/**
 * `run -f` and `logs -f`: the log until the run ends, then how it ended; the exit code is 0 only for
 * `done`. Ctrl-C or `kill` stops the following, not the run: say so, and how to follow or stop it.
 */
export async function followToEnd(
  ctx: Pick<CommandContext, "io" | "tty" | "env">,
  client: ApiClient,
  runId: string,
  write: (text: string) => void = ctx.io.out,
): Promise<ExitCode> {
  const stopHandling = onInterrupt(() => {
    ctx.io.err(`\ndstack: stopped following run ${runId}; the run goes on: \`dstack logs -f ${runId}\` follows it again, \`dstack stop ${runId}\` stops it\n`);
  });
  try {
    return reportEnd(ctx, await followLog(client, runId, write, ctx.io.err));
  } finally {
    stopHandling();
  }
}

/**
 * Writes a run's log to `write` as it grows, from its start, until the run ends; returns the ended
 * run. A dropped connection (a service restart) is resumed from the last byte received; `note` says
 * so when it drops and when it is back, since a minute of silence looks like a hung command.
 */
export async function followLog(client: ApiClient, runId: string, write: (text: string) => void, note: (text: string) => void = () => undefined): Promise<RunJson> {
  const decoder = new StringDecoder("utf8");
  let offset = 0;
  let failures = 0;
  let lost = false;
  for (;;) {
    try {
      const res = await client.request(`/api/v1/runs/${encodeURIComponent(runId)}/logs`, { query: { follow: "true", offset } });
      if (lost) note("dstack: connected again; the log goes on\n");
      lost = false;
      if (res.body === null) throw new DstackError("server", "the server sent no log stream");
      for await (const chunk of res.body) {
        const b = Buffer.from(chunk as Uint8Array);
        offset += b.length;
        failures = 0;
        write(decoder.write(b));
      }
      const run = await getRun(client, runId);
      if (TERMINAL.has(run.status)) {
        const rest = decoder.end();
        if (rest !== "") write(rest);
        return run;
      }
    } catch (err) {
      // A stream cut mid-way is a TypeError from undici ("terminated"); a refused reconnect is ours.
      if (!(err instanceof ServerUnreachableError) && !(err instanceof TypeError)) throw err;
      const delay = RECONNECT_DELAYS_MS[failures++];
      if (delay === undefined) throw err;
      if (!lost) note(`dstack: lost the connection to ${client.url}; trying again for about a minute\n`);
      lost = true;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** The whole log as stored so far, range by range. */
export async function readLog(client: ApiClient, runId: string, write: (text: string) => void): Promise<void> {
  const decoder = new StringDecoder("utf8");
  let offset = 0;
  for (;;) {
    const res = await client.request(`/api/v1/runs/${encodeURIComponent(runId)}/logs`, { query: { offset, limit: 4 * 1024 * 1024 } });
    const data = Buffer.from(await res.arrayBuffer());
    const start = Number(res.headers.get("x-dstack-offset") ?? offset);
    const total = Number(res.headers.get("x-dstack-log-bytes") ?? 0);
    if (data.length > 0) write(decoder.write(data));
    offset = start + data.length;
    if (data.length === 0 || offset >= total) break;
  }
  const rest = decoder.end();
  if (rest !== "") write(rest);
}
