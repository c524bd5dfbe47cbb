import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { c as createTar } from "tar";

/** Uploads a working tree holding `.dstack/workflows.yaml` (as `dstack run` does without GitHub); returns the upload id. */
export async function uploadWorkflows(baseUrl: string, token: string, workflowsYaml: string): Promise<string> {
  const tree = await mkdtemp(path.join(os.tmpdir(), "dstack-tree-"));
  try {
    await mkdir(path.join(tree, ".dstack"));
    await writeFile(path.join(tree, ".dstack", "workflows.yaml"), workflowsYaml);
    const chunks: Buffer[] = [];
    for await (const c of createTar({ gzip: true, cwd: tree, portable: true }, ["."])) chunks.push(c as Buffer);
    const res = await fetch(`${baseUrl}/api/v1/uploads`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" }, body: Buffer.concat(chunks) });
    if (res.status !== 201) throw new Error(`upload failed: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { upload: string }).upload;
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** Submits `workflow` of the uploaded tree through /api/v1; returns the run id. */
export async function submitRun(baseUrl: string, token: string, input: { repo: string; workflow: string; upload: string; workflowsYaml: string }): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ repo: input.repo, run: [input.workflow], files: [{ path: ".dstack/workflows.yaml", text: input.workflowsYaml }], code: { kind: "upload", upload: input.upload } }),
  });
  if (res.status !== 201) throw new Error(`submit failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { run: { id: string } }).run.id;
}
