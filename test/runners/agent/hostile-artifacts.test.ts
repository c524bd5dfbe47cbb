import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runArtifactKey } from "../../../src/artifacts/index.js";
import { startPrFixture, type PrFixture } from "../../helpers/pr-fixture.js";
import { startS3Server, type TestS3Server } from "../../helpers/s3-server.js";

/**
 * Artifacts that try to leave the working directory, run by the real agent through the whole
 * service, once with the file store and once with the S3 store: `../`, absolute paths, symbolic and
 * hard links to a file outside (a stand-in for `/etc/passwd` or `~/.aws/credentials` that this test
 * owns, so the hard link is allowed), names with a line break or an escape, NUL. Counted after the
 * runs: objects holding the outside file's bytes 0, object keys outside the run's prefix 0.
 */

const SECRET = `outside-secret-${process.pid}-do-not-upload`;
let outside: string;
let s3: TestS3Server;

beforeAll(async () => {
  outside = await mkdtemp(path.join(os.tmpdir(), "dstack-outside-"));
  await writeFile(path.join(outside, "secret.txt"), `${SECRET}\n`);
  s3 = await startS3Server({ buckets: ["artifacts"] });
});

afterAll(async () => {
  await s3?.close();
  await rm(outside, { recursive: true, force: true });
});

function workflows(): string {
  return `workflows:
  - name: links
    provider: bash
    env: {OUTSIDE: "${outside}"}
    commands:
      - mkdir -p out
      - echo ok > out/ok.txt
      - echo same > out/inner-a.txt && ln out/inner-a.txt out/inner-b.txt
      - ln -s "$OUTSIDE/secret.txt" out/symlink.txt
      - ln -s "$OUTSIDE" out/linked-dir
      - ln "$OUTSIDE/secret.txt" out/hardlink.txt
      - printf x > "out/new"$'\\n'"line.txt"
      - printf x > "out/esc"$'\\033'"[31m.txt"
    artifacts: [out]
  - name: escape
    provider: bash
    env: {OUTSIDE: "${outside}"}
    commands: ['ln -s "$OUTSIDE" escape']
    artifacts: [escape/secret.txt]
`;
}

/** Every object of a store as key -> bytes (file store: files under its root; S3: the bucket's prefix). */
type ReadStore = () => Promise<Map<string, string>>;

async function readFileStore(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // Walked folder by folder: the service's run journal comes and goes while runs end, and the store
  // prunes a folder it empties, which made one recursive `readdir` fail as a whole (CI: 0 objects).
  // A folder or file gone since it was listed is skipped.
  const folders = [root];
  for (let dir = folders.pop(); dir !== undefined; dir = folders.pop()) {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) folders.push(abs);
      if (!e.isFile()) continue;
      const bytes = await readFile(abs, "utf8").catch(() => undefined);
      if (bytes !== undefined) out.set(path.relative(root, abs).split(path.sep).join("/"), bytes);
    }
  }
  return out;
}

function readS3Store(prefix: string): ReadStore {
  return async () => {
    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: s3.region, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const out = new Map<string, string>();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: "artifacts" }));
    for (const o of listed.Contents ?? []) {
      const key = o.Key as string;
      // As in the file store: the service's run journal comes and goes while runs end (a CI run met
      // NoSuchKey for an entry removed between the listing and the read): a key gone since is skipped.
      const got = await client.send(new GetObjectCommand({ Bucket: "artifacts", Key: key })).catch((err: unknown) => {
        if ((err as { name?: string }).name === "NoSuchKey" && key.startsWith(`${prefix}/journal/`)) return undefined;
        throw err;
      });
      if (got === undefined) continue;
      out.set(key.startsWith(`${prefix}/`) ? key.slice(prefix.length + 1) : `../${key}`, (await got.Body?.transformToString()) ?? "");
    }
    client.destroy();
    return out;
  };
}

async function exercise(store: "file" | "s3"): Promise<void> {
  const fileRoot = await mkdtemp(path.join(os.tmpdir(), "dstack-hostile-store-"));
  const env: Record<string, string> =
    store === "file"
      ? { DSTACK_ARTIFACTS: `file://${fileRoot}` }
      : { DSTACK_ARTIFACTS: "s3://artifacts/team", AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
  const read: ReadStore = store === "file" ? () => readFileStore(fileRoot) : readS3Store("team");
  let pr: PrFixture | undefined;
  try {
    pr = await startPrFixture({ name: `hostile-artifacts-${store}`, files: { ".dstack/workflows.yaml": workflows() }, service: { env } });
    const fixture = pr;
    // `..`, absolute and NUL paths in a workflow file are errors of the whole file: asked for ad hoc here.
    const adHoc = {
      "leaves the working directory": "/dstack run bash -c 'echo hi' -a ../secret.txt",
      "need a backend that isolates the run": `/dstack run bash -c 'echo hi' -a ${outside}/secret.txt`,
      "U+0000": "/dstack run bash -c 'echo hi' -a out\u0000/../../secret.txt",
    };
    for (const body of ["/dstack run links", "/dstack run escape", ...Object.values(adHoc)]) expect((await fixture.comment(body)).status).toBe(202);
    const ended = (name: string) =>
      fixture.github.waitFor((g) => g.checkRuns.find((c) => c.name === `dstack: ${name}` && c.status === "completed"), { timeoutMs: 45_000, description: `${name} ended` });
    const links = await ended("links");
    const escape = await ended("escape");
    expect(links.conclusion).toBe("success");
    expect(escape.conclusion).toBe("failure");
    expect(escape.output.text ?? "").toContain("leads outside the working directory through a symbolic link");
    expect(links.output.text ?? "").toContain("out/hardlink.txt skipped: it is a hard link");
    expect(links.output.text ?? "").toContain("skipped: its name holds a control character");
    // Refused before any run starts: one reply each says why, and no `dstack: bash` check run.
    const replies = await fixture.github.waitFor(
      (g) => {
        const bodies = g.comments.map((c) => c.body).filter((b) => !b.startsWith("/dstack"));
        const found = Object.keys(adHoc).map((needle) => bodies.find((b) => b.includes(needle)));
        return found.every((b) => b !== undefined) ? found : undefined;
      },
      { timeoutMs: 20_000, description: "refusals of `..`, absolute and NUL artifact paths" },
    );
    expect(replies).toHaveLength(3);
    expect(fixture.github.checkRuns.filter((c) => c.name === "dstack: bash")).toEqual([]);

    const objects = await read();
    const runIds = new Set(fixture.github.checkRuns.map((c) => c.external_id));
    // Keys are a run's (`runs/<id>/...`) or the service's own journal of unconcluded runs (`journal/`).
    const outsidePrefix = [...objects.keys()].filter((k) => {
      if (k.startsWith("journal/")) return false;
      const match = /^runs\/([^/]+)\//.exec(k);
      return match === null || !runIds.has(match[1] as string);
    });
    const leaked = [...objects].filter(([, bytes]) => bytes.includes(SECRET)).map(([k]) => k);
    const artifactKeys = [...objects.keys()].filter((k) => k.includes("/artifacts/")).map((k) => k.replace(/^runs\/[^/]+\/artifacts\//, "")).sort();
    process.stdout.write(
      `hostile artifacts (${store} store): ${objects.size} objects, artifact files ${JSON.stringify(artifactKeys)}; ` +
        `objects holding the outside file's bytes ${leaked.length}, keys outside a run's prefix ${outsidePrefix.length}\n`,
    );
    expect(artifactKeys).toEqual(["out/inner-a.txt", "out/inner-b.txt", "out/ok.txt"]);
    expect(leaked).toEqual([]);
    expect(outsidePrefix).toEqual([]);
  } finally {
    await pr?.stop();
    await rm(fileRoot, { recursive: true, force: true });
  }
}

describe("hostile artifact paths and files", () => {
  it("the file store gets no byte from outside the working dir and no key outside the run's prefix", async () => {
    await exercise("file");
  });

  it("the S3 store gets no byte from outside the working dir and no key outside the run's prefix", async () => {
    await exercise("s3");
  });

  it("refuses hostile artifact paths as keys before either store is touched", () => {
    const paths = ["../x", "a/../../x", "/etc/passwd", "a\0b", "a\nb", "a\u001b[31mb", "a\\..\\x", "a//b", "./a", ""];
    const refused = paths.filter((p) => {
      try {
        runArtifactKey("run1", p);
        return false;
      } catch {
        return true;
      }
    });
    expect(refused).toEqual(paths);
  });
});
