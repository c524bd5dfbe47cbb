import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Readable } from "node:stream";
import { ArtifactNotFoundError, InvalidInputError } from "../../src/errors.js";
import type { ArtifactStore } from "../../src/artifacts/types.js";

/** One store under test plus the backend facts the contract checks. */
export interface ContractHarness {
  store: ArtifactStore;
  /** Incomplete uploads the backend still holds (S3 multipart uploads, half-written temp files). */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

export const MiB = 1024 * 1024;

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `sizeBytes` of random bytes streamed in 64 KiB chunks, and their sha256. */
export function randomStream(sizeBytes: number): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash("sha256");
  let resolveHash: (hex: string) => void = () => undefined;
  const digest = new Promise<string>((resolve) => (resolveHash = resolve));
  async function* generate(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < sizeBytes; ) {
      const chunk = randomBytes(Math.min(64 * 1024, sizeBytes - sent));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
    resolveHash(hash.digest("hex"));
  }
  return { stream: Readable.from(generate(), { objectMode: false }), sha256: digest };
}

/**
 * A body that sends `sizeBytes`, then stalls (an agent that hangs) or fails (a dropped
 * connection); `sent` resolves once the bytes are all read by the store.
 */
export function stallingStream(sizeBytes: number, then: "stall" | "fail"): { stream: Readable; sent: Promise<void> } {
  let resolveSent: () => void = () => undefined;
  const sent = new Promise<void>((resolve) => (resolveSent = resolve));
  let pushed = 0;
  const stream = new Readable({
    read() {
      if (pushed < sizeBytes) {
        const chunk = randomBytes(Math.min(256 * 1024, sizeBytes - pushed));
        pushed += chunk.length;
        this.push(chunk);
        return;
      }
      resolveSent();
      if (then === "fail") this.destroy(new Error("connection reset by the agent"));
    },
  });
  return { stream, sent };
}

let unique = 0;
/** A fresh key prefix per test, so tests sharing one store never see each other's objects. */
function freshPrefix(): string {
  unique += 1;
  return `contract-${process.pid}-${unique}-${randomBytes(3).toString("hex")}/`;
}

const UNSAFE_KEYS = ["", "/etc/passwd", "a/../b", "..", "../x", "a//b", "a/", "./a", "a/./b", "a\\b", "a\0b"];

/** The behaviour every `ArtifactStore` shares; each backend's test file calls this with its harness. */
export function describeArtifactStoreContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`${name}: ArtifactStore contract`, () => {
    let h: ContractHarness;
    let store: ArtifactStore;
    let p: string;

    beforeAll(async () => {
      h = await setup();
      store = h.store;
    });
    afterAll(async () => {
      await h.close();
    });
    beforeEach(() => {
      p = freshPrefix();
    });

    it("round-trips a small file byte for byte", async () => {
      const bytes = Buffer.from("loss: 0.123\nacc: 0.98\n\u00e9\u{1f600}\n", "utf8");
      const put = await store.put(`${p}metrics.txt`, Readable.from([bytes]), { contentType: "text/plain" });
      expect(put).toEqual({ key: `${p}metrics.txt`, sizeBytes: bytes.length });
      expect(await readAll(await store.get(`${p}metrics.txt`))).toEqual(bytes);
    });

    it("round-trips an empty object", async () => {
      expect(await store.put(`${p}empty`, Readable.from([]))).toEqual({ key: `${p}empty`, sizeBytes: 0 });
      expect((await readAll(await store.get(`${p}empty`))).length).toBe(0);
    });

    it("round-trips a 20 MiB stream (several multipart parts) with identical bytes", async () => {
      const { stream, sha256: sent } = randomStream(20 * MiB);
      const put = await store.put(`${p}model.bin`, stream);
      expect(put.sizeBytes).toBe(20 * MiB);
      const back = await readAll(await store.get(`${p}model.bin`));
      expect(back.length).toBe(20 * MiB);
      expect(sha256(back)).toBe(await sent);
      expect(await store.list(`${p}model.bin`)).toEqual([{ key: `${p}model.bin`, sizeBytes: 20 * MiB }]);
    });

    it("lists the objects under a prefix with their sizes, sorted by key", async () => {
      const objects: [string, number][] = [
        ["run/out/b.txt", 3],
        ["run/out/a.txt", 1],
        ["run/out/sub/deep.bin", 5],
        ["run/outside.txt", 2],
        ["run/log.txt", 4],
      ];
      for (const [key, size] of objects) await store.put(`${p}${key}`, Readable.from([Buffer.alloc(size, 120)]));

      expect(await store.list(`${p}run/out/`)).toEqual([
        { key: `${p}run/out/a.txt`, sizeBytes: 1 },
        { key: `${p}run/out/b.txt`, sizeBytes: 3 },
        { key: `${p}run/out/sub/deep.bin`, sizeBytes: 5 },
      ]);
      // A prefix is a string prefix, not a folder: "run/out" also matches "run/outside.txt".
      expect((await store.list(`${p}run/out`)).map((o) => o.key.slice(p.length))).toEqual([
        "run/out/a.txt",
        "run/out/b.txt",
        "run/out/sub/deep.bin",
        "run/outside.txt",
      ]);
      expect((await store.list(p)).length).toBe(5);
      expect(await store.list(`${p}nothing/`)).toEqual([]);
    });

    it("replaces an object that is put again", async () => {
      await store.put(`${p}result.json`, Readable.from([Buffer.from('{"version":1,"long":true}')]));
      await store.put(`${p}result.json`, Readable.from([Buffer.from('{"version":2}')]));
      expect((await readAll(await store.get(`${p}result.json`))).toString()).toBe('{"version":2}');
      expect(await store.list(`${p}result.json`)).toEqual([{ key: `${p}result.json`, sizeBytes: 13 }]);
    });

    it("rejects get of a missing key with ArtifactNotFoundError", async () => {
      await expect(store.get(`${p}missing.txt`)).rejects.toBeInstanceOf(ArtifactNotFoundError);
      // A "folder" is not an object either.
      await store.put(`${p}dir/file.txt`, Readable.from([Buffer.from("x")]));
      await expect(store.get(`${p}dir`)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    });

    it("deletes every object under a prefix and nothing else", async () => {
      for (const key of ["runs/1/log.txt", "runs/1/artifacts/a/b.txt", "runs/1/artifacts/c.txt", "runs/10/log.txt"]) {
        await store.put(`${p}${key}`, Readable.from([Buffer.from(key)]));
      }
      await store.deletePrefix(`${p}runs/1/`);
      expect((await store.list(p)).map((o) => o.key.slice(p.length))).toEqual(["runs/10/log.txt"]);
      await expect(store.get(`${p}runs/1/log.txt`)).rejects.toBeInstanceOf(ArtifactNotFoundError);
      // Deleting what is already gone is not an error.
      await store.deletePrefix(`${p}runs/1/`);
      // And the emptied place can be used again.
      await store.put(`${p}runs/1/log.txt`, Readable.from([Buffer.from("again")]));
      expect((await readAll(await store.get(`${p}runs/1/log.txt`))).toString()).toBe("again");
    });

    it("refuses unsafe keys and prefixes before touching the backend", async () => {
      for (const key of UNSAFE_KEYS) {
        await expect(store.put(key, Readable.from([Buffer.from("x")]))).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store.get(key)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store.downloadUrl(key, { expiresInSeconds: 60 })).rejects.toBeInstanceOf(InvalidInputError);
      }
      for (const prefix of ["../", "/abs/", "a/../", "a//"]) {
        await expect(store.list(prefix)).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store.deletePrefix(prefix)).rejects.toBeInstanceOf(InvalidInputError);
      }
    });

    it("gives a download URL that serves the bytes to a plain fetch without credentials", async () => {
      const bytes = randomBytes(300 * 1024);
      await store.put(`${p}plots/loss curve.png`, Readable.from([bytes]), { contentType: "image/png" });
      const url = await store.downloadUrl(`${p}plots/loss curve.png`, {
        expiresInSeconds: 3600,
        fileName: "loss curve.png",
      });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    });

    it("refuses a download URL that was tampered with", async () => {
      await store.put(`${p}public.txt`, Readable.from([Buffer.from("public")]));
      await store.put(`${p}secret.txt`, Readable.from([Buffer.from("secret")]));
      const url = await store.downloadUrl(`${p}public.txt`, { expiresInSeconds: 3600 });
      // Point the signed URL at another object: the signature no longer matches.
      const tampered = url.replace(encodeURIComponent("public.txt"), encodeURIComponent("secret.txt"));
      expect(tampered).not.toBe(url);
      const res = await fetch(tampered);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain("secret");
    });

    it("refuses a download URL once it has expired", async () => {
      await store.put(`${p}soon-gone.txt`, Readable.from([Buffer.from("bytes")]));
      const url = await store.downloadUrl(`${p}soon-gone.txt`, { expiresInSeconds: 1 });
      // Signing times have whole-second precision: 2.2 s is past the expiry whatever the rounding.
      await sleep(2200);
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toBe("bytes");
    });

    it("rejects an already aborted put without reading the body", async () => {
      const controller = new AbortController();
      controller.abort(new Error("cancelled before start"));
      const body = Readable.from([Buffer.from("never read")]);
      await expect(store.put(`${p}never.txt`, body, { signal: controller.signal })).rejects.toThrow(
        "cancelled before start",
      );
      expect(await store.list(p)).toEqual([]);
    });

    it("leaves nothing behind when a put is aborted mid-stream", async () => {
      // 12 MiB then a stall: more than one 8 MiB part, so for S3 a multipart upload is under way.
      const { stream, sent } = stallingStream(12 * MiB, "stall");
      const controller = new AbortController();
      const putting = store.put(`${p}aborted.bin`, stream, { signal: controller.signal });
      await sent;
      await sleep(300);
      controller.abort(new Error("run cancelled"));
      await expect(putting).rejects.toThrow("run cancelled");
      expect(stream.destroyed).toBe(true);
      await expect(store.get(`${p}aborted.bin`)).rejects.toBeInstanceOf(ArtifactNotFoundError);
      expect(await store.list(p)).toEqual([]);
      expect(await h.leftovers()).toEqual([]);
    });

    it("leaves nothing behind when the body fails mid-stream, and keeps the previous object", async () => {
      await store.put(`${p}checkpoint.bin`, Readable.from([Buffer.from("previous")]));
      const { stream } = stallingStream(10 * MiB, "fail");
      await expect(store.put(`${p}checkpoint.bin`, stream)).rejects.toThrow("connection reset by the agent");
      expect((await readAll(await store.get(`${p}checkpoint.bin`))).toString()).toBe("previous");
      expect(await h.leftovers()).toEqual([]);
    });
  });
}
