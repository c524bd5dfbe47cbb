import { createWriteStream } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { DstackError, InvalidInputError } from "../../errors.js";
import type { ApiClient } from "../api-client.js";
import type { CommandContext } from "../command-context.js";
import { connect, paintFor } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { FileWriteError, isFileSystemError } from "../file-write-error.js";
import { isTerminal } from "../../runs/types.js";
import { getRun } from "../follow-log.js";
import { formatBytes, formatTable } from "../format.js";
import { onInterrupt } from "../on-interrupt.js";
import { ProgressBar } from "../progress-bar.js";
import { StagedOutput } from "../staged-output.js";

interface ArtifactList {
  runId: string;
  artifacts: Array<{ path: string; sizeBytes: number }>;
  totalBytes: number;
}

/** Files downloaded at once. */
const PARALLEL_DOWNLOADS = 4;

/** `dstack artifacts list <run>` and `dstack artifacts download <run> [-o dir]`. */
export function registerArtifacts(program: Command, ctx: CommandContext): void {
  const artifacts = program.command("artifacts").description("list or download a run's artifacts");
  artifacts
    .command("list")
    .description("list a run's artifact files with their sizes")
    .argument("<run>", "the run id")
    .option("--json", "print a JSON array of {path, sizeBytes}")
    .action(async (runId: string, options: { json?: boolean }) => {
      const client = await connect(ctx);
      const list = await listArtifacts(client, runId);
      if (options.json === true) ctx.io.out(`${JSON.stringify(list.artifacts, null, 2)}\n`);
      else if (list.artifacts.length === 0) ctx.io.err(`dstack: ${await noArtifacts(client, runId)}\n`);
      else {
        const rows = list.artifacts.map((a) => [a.path, formatBytes(a.sizeBytes)]);
        ctx.io.out(formatTable(["PATH", "SIZE"], rows, paintFor(ctx)));
        ctx.io.err(`${list.artifacts.length} file${list.artifacts.length === 1 ? "" : "s"}, ${formatBytes(list.totalBytes)}\n`);
      }
      ctx.exit(ExitCode.ok);
    });
  artifacts
    .command("download")
    .description("download a run's artifacts, each file at its artifact path under DIR (a progress bar on a terminal)")
    .argument("<run>", "the run id")
    .option("-o, --output <dir>", "where to write them", ".")
    .action(async (runId: string, options: { output: string }) => {
      // `-o ""` (an unset shell variable) would write into the current folder and say "to ".
      if (options.output === "") throw new InvalidInputError("-o needs a folder: `-o DIR` (`-o .` for the current one)");
      const client = await connect(ctx);
      const list = await listArtifacts(client, runId);
      if (list.artifacts.length === 0) {
        // Not "downloaded 0 files" and an empty DIR made: nothing is asked of the file system.
        ctx.io.err(`dstack: ${await noArtifacts(client, runId)}; nothing was downloaded\n`);
        ctx.exit(ExitCode.ok);
        return;
      }
      const paths = list.artifacts.map((a) => a.path);
      const dir = path.resolve(ctx.cwd, options.output);
      for (const rel of paths) refuseOutside(dir, rel);
      // Made and proven writable before any byte is fetched: a bad -o fails at once.
      const output = await StagedOutput.open(dir);
      const bar = new ProgressBar(ctx.tty.err ? ctx.io.err : undefined, list.totalBytes);
      // Ctrl-C or `kill` mid-download: no hidden staging folder (nor a DIR made for it) is left behind.
      const stopHandling = onInterrupt((signal) => {
        output.discardNow();
        ctx.io.err(`\ndstack: ${signal === "SIGINT" ? "interrupted" : "terminated"}; the partial download was removed\n`);
      });
      try {
        await downloadAll(paths, (rel, signal) => downloadFile(client, { runId, rel, output, signal }, (n) => bar.add(n)));
        await output.commit(paths);
      } catch (err) {
        await output.discard();
        throw err;
      } finally {
        stopHandling();
        bar.done();
      }
      ctx.io.err(`downloaded ${list.artifacts.length} file${list.artifacts.length === 1 ? "" : "s"} (${formatBytes(list.totalBytes)}) to ${options.output}\n`);
      ctx.exit(ExitCode.ok);
    });
}

async function listArtifacts(client: ApiClient, runId: string): Promise<ArtifactList> {
  return client.json<ArtifactList>(`/api/v1/runs/${encodeURIComponent(runId)}/artifacts`);
}

/** Why a run has no artifacts yet when it has not ended: they are uploaded at its end. */
async function noArtifacts(client: ApiClient, runId: string): Promise<string> {
  const run = await getRun(client, runId);
  return isTerminal(run.status) ? `run ${runId} has no artifacts` : `run ${runId} has no artifacts yet (it is ${run.status}; they are uploaded when it ends)`;
}

/** The server checks paths too; a path that would land outside DIR is never written. */
function refuseOutside(dir: string, rel: string): void {
  const inside = path.relative(dir, path.resolve(dir, rel));
  if (inside === "" || inside.startsWith("..") || path.isAbsolute(inside)) throw new InvalidInputError(`artifact path ${JSON.stringify(rel)} would be written outside ${dir}`);
}

/**
 * Runs `download` for each path, {@link PARALLEL_DOWNLOADS} at a time. The first failure aborts the
 * others (their requests and writes) and is the one thrown, once all have stopped, so the caller's
 * clean-up never races a write still in flight.
 */
async function downloadAll(paths: readonly string[], download: (rel: string, signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = new AbortController();
  const queue = [...paths];
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let rel = queue.shift(); rel !== undefined && !abort.signal.aborted; rel = queue.shift()) {
      try {
        await download(rel, abort.signal);
      } catch (error) {
        failure ??= { error };
        abort.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, queue.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

async function downloadFile(
  client: ApiClient,
  input: { runId: string; rel: string; output: StagedOutput; signal: AbortSignal },
  progress: (bytes: number) => void,
): Promise<void> {
  const { runId, rel, output, signal } = input;
  const res = await client.request(`/api/v1/runs/${encodeURIComponent(runId)}/artifacts/file`, { query: { path: rel }, signal });
  if (res.body === null) throw new DstackError("server", `the server sent no bytes for ${rel}`);
  try {
    const target = await output.stagedPath(rel);
    // Made after the folder: a "data" listener starts the flow, and bytes sent before the pipe would be lost.
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream);
    body.on("data", (chunk: Buffer) => progress(chunk.length));
    await pipeline(body, createWriteStream(target), { signal });
  } catch (err) {
    await res.body.cancel().catch(() => undefined); // already consumed or closed: nothing left to release
    if (isFileSystemError(err)) throw new FileWriteError(path.join(output.dir, rel), err);
    throw err;
  }
}
