import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { createArtifactStore } from "../../src/artifacts/create-artifact-store.js";
import { InvalidInputError } from "../../src/errors.js";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";
import { readAll } from "./artifact-store-contract.js";

const signingKey = randomBytes(32);

describe("createArtifactStore (DSTACK_ARTIFACTS)", () => {
  let server: TestS3Server;
  let folder: string;

  beforeAll(async () => {
    server = await startS3Server({ buckets: ["dstack-artifacts"] });
    folder = await mkdtemp(join(tmpdir(), "dstack-create-"));
  });
  afterAll(async () => {
    await server.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("opens an S3 store for s3://bucket/prefix", async () => {
    const store = createArtifactStore("s3://dstack-artifacts/prod/v1/", {
      publicUrl: "http://localhost:3000",
      signingKey,
      s3Config: {
        endpoint: server.endpoint,
        region: server.region,
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      },
    });
    await store.put("runs/1/log.txt", Readable.from([Buffer.from("log")]));
    expect(await store.list("")).toEqual([{ key: "runs/1/log.txt", sizeBytes: 3 }]);
    expect(new URL(await store.downloadUrl("runs/1/log.txt", { expiresInSeconds: 60 })).pathname).toBe(
      "/dstack-artifacts/prod/v1/runs/1/log.txt",
    );
    await store.close();
  });

  it("opens a folder store for file:///abs/path, linking to this service's download route", async () => {
    const root = join(folder, "artifacts with space");
    const store = createArtifactStore(pathToFileURL(root).href, { publicUrl: "http://localhost:3000", signingKey });
    await store.put("runs/1/log.txt", Readable.from([Buffer.from("log")]));
    expect(await readFile(join(root, "runs", "1", "log.txt"), "utf8")).toBe("log");
    expect((await readAll(await store.get("runs/1/log.txt"))).toString()).toBe("log");
    expect(await store.downloadUrl("runs/1/log.txt", { expiresInSeconds: 60 })).toMatch(
      /^http:\/\/localhost:3000\/artifacts\/download\?key=runs%2F1%2Flog\.txt&expires=\d+&sig=[\w-]{43}$/,
    );
    await store.close();
  });

  it.each([
    ["", "is not a URL"],
    ["./artifacts", "is not a URL"],
    ["https://bucket.s3.amazonaws.com/prefix", "unsupported scheme"],
    ["s3://", "valid bucket"],
    ["s3://Not_A_Bucket/x", "valid bucket"],
    ["s3://bucket:9000/x", "valid bucket"],
    ["s3://bucket/a/../b", "unusable prefix"],
    ["s3://bucket/x?region=eu", "query"],
    ["file://relative/path", "not absolute"],
    ["file:///abs/path#frag", "fragment"],
  ])("refuses %j, naming the variable and the accepted forms", (url, why) => {
    const make = () => createArtifactStore(url, { publicUrl: "http://localhost:3000", signingKey });
    expect(make).toThrow(InvalidInputError);
    expect(make).toThrow(why);
    expect(make).toThrow("DSTACK_ARTIFACTS=");
    expect(make).toThrow("`s3://bucket/prefix` or `file:///absolute/path`");
  });
});
