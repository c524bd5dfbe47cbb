import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readdir, realpath } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { AgentClient } from "./client.js";
import { InputFiles } from "./job-spec.js";
import type { Output } from "./python-env.js";

export interface Uploaded {
  path: string;
  sizeBytes: number;
}

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

async function* walk(abs: string, rel: string): AsyncGenerator<{ abs: string; rel: string; size: number }> {
  const st = await lstat(abs);
  if (st.isSymbolicLink()) return; // never follow links out of the artifact (a link to ~/.ssh would leak it)
  if (st.isFile()) {
    yield { abs, rel, size: st.size };
    return;
  }
  if (!st.isDirectory()) return;
  const entries = await readdir(abs);
  entries.sort();
  for (const name of entries) yield* walk(path.join(abs, name), `${rel}/${name}`);
}

/** Uploads every file under the declared artifact paths, 4 at a time, each retried on failure. */
export async function uploadArtifacts(
  deps: { client: AgentClient; out: Output },
  input: { cwd: string; artifacts: Array<{ path: string }>; signal?: AbortSignal },
): Promise<Uploaded[]> {
  const files: Array<{ abs: string; rel: string; size: number }> = [];
  for (const a of input.artifacts) {
    const { abs, rel } = artifactLocation(input.cwd, a.path);
    try {
      if (!path.isAbsolute(a.path)) await assertInside(input.cwd, abs, `artifact path ${a.path}`);
      for await (const f of walk(abs, rel)) files.push(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        deps.out.write(`[dstack] warning: artifact ${a.path} does not exist after the run; nothing to upload for it\n`);
        continue;
      }
      throw err;
    }
  }
  const uploaded: Uploaded[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++] as (typeof files)[number];
      await uploadOne(deps.client, f, input.signal);
      uploaded.push({ path: f.rel, sizeBytes: f.size });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const total = uploaded.reduce((s, u) => s + u.sizeBytes, 0);
  if (files.length > 0) deps.out.write(`[dstack] uploaded ${files.length} artifact file(s), ${formatBytes(total)}\n`);
  return uploaded.sort((a, b) => a.path.localeCompare(b.path));
}

async function uploadOne(client: AgentClient, f: { abs: string; rel: string; size: number }, signal?: AbortSignal): Promise<void> {
  let delayMs = 500;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.request(`/artifacts?path=${encodeURIComponent(f.rel)}`, {
        method: "PUT",
        body: createReadStream(f.abs),
        headers: { "content-type": "application/octet-stream", "content-length": String(f.size) },
        retries: 0,
        signal,
      });
      await res.arrayBuffer();
      return;
    } catch (err) {
      if (attempt >= 5 || signal?.aborted === true) throw new Error(`uploading artifact ${f.rel} failed: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs *= 2;
    }
  }
}

/** Places the artifacts of the runs this one depends on at the same paths in `cwd`. */
export async function downloadInputs(
  deps: { client: AgentClient; out: Output },
  input: { cwd: string; inputs: Array<{ runId: string; workflow: string }> },
): Promise<void> {
  for (const dep of input.inputs) {
    const { files } = InputFiles.parse(await deps.client.json(`/inputs/${dep.runId}`));
    for (const f of files) {
      const dest = path.resolve(input.cwd, f.path);
      const rel = path.relative(input.cwd, dest);
      if (rel.startsWith("..") || path.isAbsolute(rel)) {
        throw new Error(`artifact path ${f.path} of ${dep.workflow} leaves the working directory`);
      }
      await mkdir(path.dirname(dest), { recursive: true });
      await assertInside(input.cwd, dest, `artifact path ${f.path} of ${dep.workflow}`);
      const res = await deps.client.request(`/inputs/${dep.runId}/file?path=${encodeURIComponent(f.path)}`);
      if (res.body === null) throw new Error(`artifact ${f.path} of ${dep.workflow} came back empty`);
      await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(dest));
    }
    deps.out.write(`[dstack] placed ${files.length} artifact file(s) of ${dep.workflow} (run ${dep.runId})\n`);
  }
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
