import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { CorruptSecretError, InvalidInputError, SecretsKeyError } from "../../src/errors.js";
import { deriveSecretsKey } from "../../src/keys.js";
import { MAX_SECRET_VALUE_BYTES, SecretStore } from "../../src/runs/secret-store.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

let server: TestRedis;
let redis: Redis;
const key = randomBytes(32);

beforeAll(async () => {
  server = await startRedis("secret-store");
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

let n = 0;
/** A store on its own prefix, so tests never see each other's secrets. */
function store(k: Buffer = key, prefix = `${server.prefix}-${++n}`): SecretStore {
  return new SecretStore({ redis, prefix, key: k });
}

describe("SecretStore", () => {
  it("round-trips values, lists names with update times only, and deletes", async () => {
    const s = store();
    const before = Date.now();
    await s.put("acme/models", "HF_TOKEN", "hf_abc123");
    await s.put("acme/models", "PEM", "-----BEGIN KEY-----\nline\n-----END KEY-----\n");
    await s.put("acme/models", "UNICODE", "pässwörd ✓");
    expect(await s.values("acme/models")).toEqual({
      HF_TOKEN: "hf_abc123",
      PEM: "-----BEGIN KEY-----\nline\n-----END KEY-----\n",
      UNICODE: "pässwörd ✓",
    });
    const listed = await s.list("acme/models");
    expect(listed.map((e) => e.name)).toEqual(["HF_TOKEN", "PEM", "UNICODE"]);
    for (const e of listed) {
      expect(Object.keys(e).sort()).toEqual(["name", "updatedAt"]);
      expect(e.updatedAt).toBeGreaterThanOrEqual(before);
    }
    await s.put("acme/models", "HF_TOKEN", "hf_new456");
    expect((await s.values("acme/models")).HF_TOKEN).toBe("hf_new456");
    expect(await s.delete("acme/models", "HF_TOKEN")).toBe(true);
    expect(await s.delete("acme/models", "HF_TOKEN")).toBe(false);
    expect(Object.keys(await s.values("acme/models"))).toEqual(["PEM", "UNICODE"]);
  });

  it("never stores a value in clear text, and encrypts the same value differently each time", async () => {
    const prefix = `${server.prefix}-clear`;
    const s = store(key, prefix);
    await s.put("acme/models", "A", "the-same-value");
    await s.put("acme/models", "B", "the-same-value");
    const raw = await redis.hgetall(`${prefix}:secrets:acme/models`);
    expect(JSON.stringify(raw)).not.toContain("the-same-value");
    expect(JSON.stringify(raw)).not.toContain(Buffer.from("the-same-value").toString("base64").slice(0, 12));
    const a = JSON.parse(raw.A ?? "{}") as { iv: string; ct: string };
    const b = JSON.parse(raw.B ?? "{}") as { iv: string; ct: string };
    expect(Buffer.from(a.iv, "base64").length).toBe(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
  });

  it("scopes secrets per repository, matching the repository case-insensitively", async () => {
    const s = store();
    await s.put("Acme/Models", "TOKEN", "for-models");
    await s.put("acme/other", "TOKEN", "for-other");
    expect(await s.values("acme/models")).toEqual({ TOKEN: "for-models" });
    expect(await s.values("ACME/MODELS")).toEqual({ TOKEN: "for-models" });
    expect(await s.values("acme/other")).toEqual({ TOKEN: "for-other" });
    expect(await s.values("acme/none")).toEqual({});
    expect(await s.list("acme/none")).toEqual([]);
  });

  it("refuses to decrypt under another key, with an error naming DSTACK_SECRETS_KEY", async () => {
    const prefix = `${server.prefix}-rekey`;
    await store(key, prefix).put("acme/models", "TOKEN", "value-1");
    const other = store(randomBytes(32), prefix);
    // Names stay listable: only values need the key.
    expect((await other.list("acme/models")).map((e) => e.name)).toEqual(["TOKEN"]);
    const err = await other.values("acme/models").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretsKeyError);
    expect((err as Error).message).toContain("DSTACK_SECRETS_KEY");
    expect((err as Error).message).toContain("TOKEN");
    expect((err as Error).message).not.toContain("value-1");
  });

  it("detects a changed ciphertext, tag or IV, and a ciphertext moved to another name or repository", async () => {
    const prefix = `${server.prefix}-tamper`;
    const s = store(key, prefix);
    await s.put("acme/models", "TOKEN", "value-to-protect");
    await s.put("acme/models", "OTHER", "something-else");
    const hash = `${prefix}:secrets:acme/models`;
    const original = (await redis.hget(hash, "TOKEN")) ?? "";
    const record = JSON.parse(original) as Record<string, string>;
    const flip = (b64: string) => {
      const b = Buffer.from(b64, "base64");
      b[0] = (b[0] ?? 0) ^ 1;
      return b.toString("base64");
    };
    for (const field of ["ct", "tag", "iv"]) {
      await redis.hset(hash, "TOKEN", JSON.stringify({ ...record, [field]: flip(record[field] ?? "") }));
      await expect(s.values("acme/models")).rejects.toBeInstanceOf(CorruptSecretError);
    }
    // Copied under another name: the name is authenticated data.
    await redis.hset(hash, "TOKEN", original);
    await redis.hset(hash, "OTHER", original);
    await expect(s.values("acme/models")).rejects.toThrow(/OTHER.*integrity/);
    // Copied to another repository: so is the repository.
    await redis.hdel(hash, "OTHER");
    await redis.hset(`${prefix}:secrets:evil/fork`, "TOKEN", original);
    await expect(s.values("evil/fork")).rejects.toBeInstanceOf(CorruptSecretError);
    await redis.hset(hash, "TOKEN", "not json");
    await expect(s.values("acme/models")).rejects.toBeInstanceOf(CorruptSecretError);
  });

  it("accepts environment variable names only, and refuses the names the runner sets", async () => {
    const s = store();
    for (const ok of ["A", "_X", "HF_TOKEN", "aws_secret_2", "X".repeat(256)]) await s.put("acme/models", ok, "value");
    const bad = ["", "1ABC", "HF-TOKEN", "A B", "é", "A=B", "X".repeat(257), "DSTACK_TOKEN", "dstack_run_id", "DSTACK_AGENT_TOKEN", "PATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED"];
    for (const name of bad) {
      await expect(s.put("acme/models", name, "value")).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(s.put("acme/models", "DSTACK_X", "v")).rejects.toThrow(/reserved/);
    expect((await s.list("acme/models")).length).toBe(5);
  });

  it("refuses empty, oversized and NUL-containing values, and malformed repositories", async () => {
    const s = store();
    await s.put("acme/models", "BIG", "x".repeat(MAX_SECRET_VALUE_BYTES));
    await expect(s.put("acme/models", "BIGGER", "x".repeat(MAX_SECRET_VALUE_BYTES + 1))).rejects.toThrow(/bytes/);
    await expect(s.put("acme/models", "EMPTY", "")).rejects.toBeInstanceOf(InvalidInputError);
    await expect(s.put("acme/models", "NUL", "a\0b")).rejects.toBeInstanceOf(InvalidInputError);
    for (const repo of ["acme", "acme/models/x", "../x", "acme/..", "a b/c"]) {
      await expect(s.put(repo, "TOKEN", "value")).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect((await s.list("acme/models")).map((e) => e.name)).toEqual(["BIG"]);
  });
});

describe("deriveSecretsKey (DSTACK_SECRETS_KEY)", () => {
  it("takes padded base64 of 32 bytes as the key itself", () => {
    const raw = randomBytes(32);
    expect(deriveSecretsKey(raw.toString("base64")).equals(raw)).toBe(true);
  });

  it("hashes any other string of 32 or more characters, including ones the base64 decoder would accept", () => {
    const passphrase = "correct horse battery staple, really long";
    expect(deriveSecretsKey(passphrase).equals(createHash("sha256").update(passphrase).digest())).toBe(true);
    // 43 letters and underscores decode to 32 bytes under Node's lenient base64, yet are a passphrase.
    const letters = "this_is_my_secret_key_for_the_dstack_app_xy";
    expect(letters.length).toBe(43);
    expect(Buffer.from(letters, "base64").length).toBe(32);
    expect(deriveSecretsKey(letters).equals(createHash("sha256").update(letters).digest())).toBe(true);
    expect(deriveSecretsKey(passphrase).length).toBe(32);
  });
});
