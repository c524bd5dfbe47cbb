import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { attachmentContentDisposition } from "../../src/artifacts/content-disposition.js";
import { DOWNLOAD_ROUTE_PATH, verifyDownloadSignature } from "../../src/artifacts/download-signature.js";
import { createFileArtifactStore } from "../../src/artifacts/file-artifact-store.js";
import type { ArtifactStore } from "../../src/artifacts/types.js";
import { ArtifactNotFoundError, InvalidInputError } from "../../src/errors.js";
import { describeArtifactStoreContract, readAll } from "./artifact-store-contract.js";

/**
 * The download route as the server mounts it: verify the signature, then stream `store.get`.
 * Returns the server and its base URL.
 */
async function startDownloadRoute(
  signingKey: Buffer,
  getStore: () => ArtifactStore,
): Promise<{ server: Server; publicUrl: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://route");
    if (url.pathname !== DOWNLOAD_ROUTE_PATH) {
      res.writeHead(404).end();
      return;
    }
    const q = url.searchParams;
    const params = { key: q.get("key"), expires: q.get("expires"), sig: q.get("sig") };
    if (!verifyDownloadSignature(params, signingKey, Date.now()) || params.key === null) {
      res.writeHead(403, { "content-type": "text/plain" }).end("link expired or invalid");
      return;
    }
    const key = params.key;
    getStore()
      .get(key)
      .then(async (body) => {
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-disposition": attachmentContentDisposition(key.slice(key.lastIndexOf("/") + 1)),
        });
        await pipeline(body, res);
      })
      .catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else res.writeHead(err instanceof ArtifactNotFoundError ? 404 : 500).end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, publicUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describeArtifactStoreContract("file store (+ the signed download route)", async () => {
  const root = await mkdtemp(join(tmpdir(), "dstack-artifacts-"));
  const signingKey = randomBytes(32);
  // The route needs the store and the store needs the route's URL: the getter runs only on requests.
  const { server, publicUrl } = await startDownloadRoute(signingKey, () => store);
  const store = createFileArtifactStore({ root, publicUrl, signingKey });
  return {
    store,
    async leftovers() {
      return readdir(join(root, ".dstack-incoming")).catch(() => []);
    },
    async close() {
      await store.close();
      await closeServer(server);
      await rm(root, { recursive: true, force: true });
    },
  };
});

describe("file store specifics", () => {
  let root: string;
  const signingKey = Buffer.alloc(32, 7);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "dstack-artifacts-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("stores each object as a plain file under the root", async () => {
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey });
    await store.put("runs/1/artifacts/out/a.txt", Readable.from([Buffer.from("A")]));
    expect(await readFile(join(root, "runs", "1", "artifacts", "out", "a.txt"), "utf8")).toBe("A");
  });

  it("never shows a reader half a file: the old object until the new one is complete", async () => {
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey });
    await store.put("log.txt", Readable.from([Buffer.from("old complete log\n")]));
    const body = new PassThrough();
    const putting = store.put("log.txt", body);
    body.write("new log, first half\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await readAll(await store.get("log.txt"))).toString()).toBe("old complete log\n");
    expect(await store.list("")).toEqual([{ key: "log.txt", sizeBytes: 17 }]);
    body.end("second half\n");
    await putting;
    expect((await readAll(await store.get("log.txt"))).toString()).toBe("new log, first half\nsecond half\n");
  });

  it("refuses a key that would be both an object and a folder, naming the clash", async () => {
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey });
    await store.put("out/model", Readable.from([Buffer.from("weights")]));
    await expect(store.put("out/model/config.json", Readable.from([Buffer.from("{}")]))).rejects.toThrow(
      /clashes with another object/,
    );
    await expect(store.put("out", Readable.from([Buffer.from("x")]))).rejects.toBeInstanceOf(InvalidInputError);
    expect(await readdir(join(root, ".dstack-incoming"))).toEqual([]);
  });

  it("keeps its upload folder out of listings and out of reach of keys", async () => {
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey });
    await store.put("a.txt", Readable.from([Buffer.from("a")]));
    expect(await store.list("")).toEqual([{ key: "a.txt", sizeBytes: 1 }]);
    await expect(store.put(".dstack-incoming/x", Readable.from([Buffer.from("x")]))).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await store.deletePrefix("");
    expect(await store.list("")).toEqual([]);
  });

  it("removes emptied folders on deletePrefix", async () => {
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey });
    await store.put("runs/1/artifacts/a/b/c.txt", Readable.from([Buffer.from("c")]));
    await store.put("runs/2/log.txt", Readable.from([Buffer.from("l")]));
    await store.deletePrefix("runs/1/");
    expect((await readdir(join(root, "runs"))).sort()).toEqual(["2"]);
  });

  it("signs download URLs for this service's route, expiring when asked (at most 7 days)", async () => {
    const nowMs = Date.UTC(2030, 0, 1, 12, 0, 0, 400);
    const store = createFileArtifactStore({
      root,
      publicUrl: "https://dstack.example.com/",
      signingKey,
      now: () => nowMs,
    });
    const url = new URL(await store.downloadUrl("runs/1/artifacts/a b+c.txt", { expiresInSeconds: 3600 }));
    expect(`${url.origin}${url.pathname}`).toBe("https://dstack.example.com/artifacts/download");
    expect(url.searchParams.get("key")).toBe("runs/1/artifacts/a b+c.txt");
    expect(url.searchParams.get("expires")).toBe(String(Math.floor(nowMs / 1000) + 3600));
    const params = {
      key: url.searchParams.get("key"),
      expires: url.searchParams.get("expires"),
      sig: url.searchParams.get("sig"),
    };
    expect(verifyDownloadSignature(params, signingKey, nowMs)).toBe(true);
    expect(verifyDownloadSignature(params, signingKey, nowMs + 3599_000)).toBe(true);
    expect(verifyDownloadSignature(params, signingKey, nowMs + 3600_000)).toBe(false);

    const week = new URL(await store.downloadUrl("a", { expiresInSeconds: 10 * 24 * 3600 }));
    expect(week.searchParams.get("expires")).toBe(String(Math.floor(nowMs / 1000) + 604800));
    await expect(store.downloadUrl("a", { expiresInSeconds: 0 })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(store.downloadUrl("a", { expiresInSeconds: Number.NaN })).rejects.toBeInstanceOf(InvalidInputError);
  });

  it("refuses a relative root and a short signing key", () => {
    expect(() => createFileArtifactStore({ root: "artifacts", publicUrl: "http://x", signingKey })).toThrow(
      InvalidInputError,
    );
    expect(() => createFileArtifactStore({ root, publicUrl: "http://x", signingKey: Buffer.alloc(16) })).toThrow(
      /at least 32/,
    );
  });
});

describe("verifyDownloadSignature", () => {
  const signingKey = Buffer.alloc(32, 1);
  const nowMs = 1_900_000_000_000;
  let good: { key: string; expires: string; sig: string };

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), "dstack-sig-"));
    const store = createFileArtifactStore({ root, publicUrl: "http://x", signingKey, now: () => nowMs });
    const url = new URL(await store.downloadUrl("runs/1/log.txt", { expiresInSeconds: 60 }));
    good = {
      key: url.searchParams.get("key") ?? "",
      expires: url.searchParams.get("expires") ?? "",
      sig: url.searchParams.get("sig") ?? "",
    };
    await rm(root, { recursive: true });
  });

  it("accepts the URL's own parameters, with expires as text or number", () => {
    expect(verifyDownloadSignature(good, signingKey, nowMs)).toBe(true);
    expect(verifyDownloadSignature({ ...good, expires: Number(good.expires) }, signingKey, nowMs)).toBe(true);
  });

  it("refuses another key, another expiry or another signing key", () => {
    expect(verifyDownloadSignature({ ...good, key: "runs/2/log.txt" }, signingKey, nowMs)).toBe(false);
    expect(verifyDownloadSignature({ ...good, expires: String(Number(good.expires) + 3600) }, signingKey, nowMs)).toBe(
      false,
    );
    expect(verifyDownloadSignature(good, Buffer.alloc(32, 2), nowMs)).toBe(false);
  });

  it("refuses missing or malformed parameters instead of throwing", () => {
    const last = good.sig.at(-1) === "A" ? "B" : "A";
    for (const bad of [
      { ...good, key: null },
      { ...good, key: "" },
      { ...good, expires: undefined },
      { ...good, expires: "soon" },
      { ...good, expires: "-1" },
      { ...good, expires: 1.5 },
      { ...good, sig: null },
      { ...good, sig: good.sig.slice(0, -1) },
      { ...good, sig: `${good.sig}=` },
      { ...good, sig: `${good.sig.slice(0, -1)}${last}` },
      { ...good, sig: Buffer.from(good.sig, "base64url").toString("hex") },
    ]) {
      expect(verifyDownloadSignature(bad, signingKey, nowMs)).toBe(false);
    }
  });
});
