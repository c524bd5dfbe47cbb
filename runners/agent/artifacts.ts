import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, realpath } from "node:fs/promises";
import path from "node:path";
import { pipeline as pipeStreams, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { kindLimit, withinLimit } from "../../src/artifacts/upload-limits.js";
import { dropHostileFiles, type FoundFile } from "./artifact-guards.js";
import { maskArtifactNames } from "./artifact-names.js";
import { AgentApiError, ServiceAnswerError, type AgentClient } from "./client.js";
import { InputFiles, type JobSpec } from "./job-spec.js";
import type { Output } from "./python-env.js";

export interface Uploaded {
  path: string;
  sizeBytes: number;
  /** Hex SHA-256 of the bytes read, confirmed by the service when it reported its own. */
  sha256?: string;
}

/** One file is sent again for at most this long after its first try (the service retries S3 meanwhile). */
const UPLOAD_RETRY_MS = 3 * 60_000;
const UPLOAD_BASE_DELAY_MS = 500;
const UPLOAD_MAX_DELAY_MS = 15_000;

/** Where a declared artifact lives on disk and the path it has within the run's artifacts. */
export function artifactLocation(cwd: string, declared: string): { abs: string; rel: string } {
  if (path.isAbsolute(declared)) return { abs: declared, rel: declared.replace(/^\/+/, "") };
  const abs = path.resolve(cwd, declared);
  const rel = path.relative(cwd, abs);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`artifact path ${declared} leaves the working directory`);
  return { abs, rel: rel.split(path.sep).join("/") };
}

/**
 * Refuses a path whose real location (symlinks in its parent folders resolved) is outside `root`:
 * `ln -s /etc out` with `artifacts: [out/passwd]` passes the lexical check but reads /etc/passwd.
 */
async function assertInside(root: string, abs: string, what: string): Promise<void> {
  const realRoot = await realpath(root);
  const realParent = await realpath(path.dirname(abs));
  const rel = path.relative(realRoot, path.join(realParent, path.basename(abs)));
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`${what} leads outside the working directory through a symbolic link`);
}

async function* walk(abs: string, rel: string): AsyncGenerator<FoundFile> {
  const st = await lstat(abs);
  if (st.isSymbolicLink()) return; // never follow links out of the artifact (a link to ~/.ssh would leak it)
  if (st.isFile()) {
    yield { abs, rel, size: st.size, links: st.nlink, inode: `${st.dev}:${st.ino}` };
    return;
  }
  if (!st.isDirectory()) return;
  const entries = await readdir(abs);
  entries.sort();
  for (const name of entries) yield* walk(path.join(abs, name), `${rel}/${name}`);
}

/** What an upload sent, and why each file it did not send was refused (over an upload limit). */
export interface UploadResult {
  uploaded: Uploaded[];
  refused: string[];
}

/**
 * Uploads every file under the declared artifact paths, 4 at a time, each retried on failure.
 * `kind: "checkpoint"` uploads the `checkpoints:` paths to the run's checkpoint set instead. A file
 * over the service's upload limits (`uploadLimits`, checked before sending anything, or the
 * service's 413) is not sent, with an error line in the log; the others still are.
 */
export async function uploadArtifacts(
  deps: { client: AgentClient; out: Output },
  input: {
    cwd: string;
    artifacts: Array<{ path: string }>;
    signal?: AbortSignal;
    kind?: "artifact" | "checkpoint";
    mask?: (text: string) => string;
    uploadLimits?: JobSpec["uploadLimits"];
  },
): Promise<UploadResult> {
  const kind = input.kind ?? "artifact";
  const found: FoundFile[] = [];
  for (const a of input.artifacts) {
    const { abs, rel } = artifactLocation(input.cwd, a.path);
    try {
      if (!path.isAbsolute(a.path)) await assertInside(input.cwd, abs, `${kind} path ${a.path}`);
      for await (const f of walk(abs, rel)) found.push(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        deps.out.write(`[dstack] warning: ${kind} ${a.path} does not exist ${kind === "artifact" ? "after the run" : "yet"}; nothing to upload for it\n`);
        continue;
      }
      throw err;
    }
  }
  const safe = dropHostileFiles(found, (line) => void deps.out.write(line), kind);
  const named = input.mask === undefined ? safe : maskArtifactNames(safe, input.mask, (line) => void deps.out.write(line), kind);
  const checked = input.uploadLimits === undefined ? { kept: named, refused: [] } : withinLimit(named, kindLimit(input.uploadLimits, kind));
  const files = checked.kept;
  const refused: string[] = [];
  const refuse = (message: string) => {
    refused.push(message);
    deps.out.write(`[dstack] error: ${message}; it was not uploaded\n`);
  };
  for (const message of checked.refused) refuse(message);
  const uploaded: Uploaded[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++] as (typeof files)[number];
      try {
        const sha256 = await uploadOne(deps.client, f, kind, input.signal);
        uploaded.push({ path: f.rel, sizeBytes: f.size, sha256 });
      } catch (err) {
        // The service's own limits (a file that grew since it was measured, an agent without them): its words name the variable.
        if (!(err instanceof Error && err.cause instanceof AgentApiError && err.cause.status === 413)) throw err;
        refuse(answerMessage(err.cause));
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const total = uploaded.reduce((s, u) => s + u.sizeBytes, 0);
  if (uploaded.length > 0) deps.out.write(`[dstack] uploaded ${uploaded.length} ${kind} file(s), ${formatBytes(total)}\n`);
  return { uploaded: uploaded.sort((a, b) => a.path.localeCompare(b.path)), refused };
}

/** The reason a run fails for files over the upload limits: the first one's, and how many more. */
export function refusedReason(refused: readonly string[]): string {
  const more = refused.length > 1 ? ` (and ${refused.length - 1} more file(s) over the upload limits: see the log)` : "";
  return `${refused[0] ?? "files over the upload limits"}${more}`;
}

/**
 * Sends one file, again after a dropped connection or a 5xx (a service restart), with exponential
 * backoff and full jitter for up to `UPLOAD_RETRY_MS`, and again when the service stored other
 * bytes than were read. Not again after a 4xx, nor after a 502: the service already retried the
 * store for its own bounded time. Returns the file's SHA-256.
 */
async function uploadOne(client: AgentClient, f: { abs: string; rel: string; size: number }, kind: "artifact" | "checkpoint", signal?: AbortSignal): Promise<string> {
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const hash = createHash("sha256");
      const body = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      // A read error fails the body, and so the request.
      pipeStreams(createReadStream(f.abs), body, () => undefined);
      const res = await client.request(`/${kind}s?path=${encodeURIComponent(f.rel)}`, {
        method: "PUT",
        body,
        headers: { "content-type": "application/octet-stream", "content-length": String(f.size) },
        retries: 0,
        signal,
      });
      const answer = (await res.json().catch(() => ({}))) as { sha256?: unknown };
      const sha256 = hash.digest("hex");
      if (typeof answer.sha256 === "string" && answer.sha256 !== sha256) {
        throw new Error(`the service stored other bytes (sha256 ${answer.sha256.slice(0, 12)}…, read ${sha256.slice(0, 12)}…)`);
      }
      return sha256;
    } catch (err) {
      const final = err instanceof AgentApiError || (err instanceof ServiceAnswerError && err.status === 502) || signal?.aborted === true;
      const delayMs = Math.round(Math.random() * Math.min(UPLOAD_MAX_DELAY_MS, UPLOAD_BASE_DELAY_MS * 2 ** (attempt - 1)));
      if (final || Date.now() + delayMs - startedAt > UPLOAD_RETRY_MS) {
        throw new Error(`${kind} upload failed: ${f.rel}: ${answerMessage(err)}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** The service's own words (`{code, message}`) when the error carries its answer, else the error's message. */
function answerMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const json = text.indexOf("{");
  if (json >= 0) {
    try {
      const parsed = JSON.parse(text.slice(json)) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message;
    } catch {
      // Cut short at 300 characters, or not JSON: the whole text says enough.
    }
  }
  return text;
}

/** Places the artifacts of the runs this one depends on at the same paths in `cwd`. */
export async function downloadInputs(
  deps: { client: AgentClient; out: Output },
  input: { cwd: string; inputs: Array<{ runId: string; workflow: string }> },
): Promise<void> {
  for (const dep of input.inputs) {
    const { files } = InputFiles.parse(await deps.client.json(`/inputs/${dep.runId}`));
    for (const f of files) {
      await placeFile(deps.client, input.cwd, f.path, `/inputs/${dep.runId}/file?path=${encodeURIComponent(f.path)}`, `artifact path ${f.path} of ${dep.workflow}`);
    }
    deps.out.write(`[dstack] placed ${files.length} artifact file(s) of ${dep.workflow} (run ${dep.runId})\n`);
  }
}

/** Downloads `url` of the agent API to `relPath` in `cwd`, never outside it (by `..` or a symbolic link). */
export async function placeFile(client: AgentClient, cwd: string, relPath: string, url: string, what: string): Promise<void> {
  const dest = path.resolve(cwd, relPath);
  const rel = path.relative(cwd, dest);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`${what} leaves the working directory`);
  await mkdir(path.dirname(dest), { recursive: true });
  await assertInside(cwd, dest, what);
  const res = await client.request(url);
  if (res.body === null) throw new Error(`${what} came back empty`);
  await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(dest));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
