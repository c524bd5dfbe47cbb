import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { CorruptSecretError, InvalidInputError, SecretsKeyError } from "../errors.js";

/** Largest secret value, in UTF-8 bytes: a certificate or a service-account JSON fits; a dataset does not. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;
/** Longest secret name. */
const MAX_SECRET_NAME_LENGTH = 256;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
/**
 * Names the runner agent sets itself (runners/agent/main.ts `workflowEnv`, providers.ts): a secret
 * with one of them would be overwritten, or would break the run. `DSTACK_*` is refused as a
 * prefix, which also covers the agent's own `DSTACK_AGENT_*` credentials.
 */
const RESERVED_NAMES = new Set(["PATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED"]);

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One stored secret: AES-256-GCM ciphertext with its IV and tag, all base64; `kid` names the key. */
const SecretRecord = z.object({
  v: z.literal(1),
  kid: z.string(),
  iv: z.string(),
  tag: z.string(),
  ct: z.string(),
  updatedAt: z.number(),
});
type SecretRecord = z.infer<typeof SecretRecord>;

/**
 * Secrets of each repository, encrypted at rest with AES-256-GCM under the service's secrets key
 * (`DSTACK_SECRETS_KEY`, see src/keys.ts). Each value has its own random 12-byte IV; the
 * repository and the name are the GCM associated data, so a ciphertext copied to another secret
 * or repository fails to decrypt instead of leaking there. Each record also carries a key id (an
 * HMAC of a constant under the key, which reveals nothing about the key), so a changed key is told
 * apart from a tampered record.
 *
 * Keys: `{prefix}:secrets:{owner/name, lower case}` is a hash of name -> JSON record.
 * Repositories are matched case-insensitively (GitHub's owner and repository names are); names
 * are case-sensitive, like environment variables.
 */
export class SecretStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly key: Buffer;
  private readonly kid: string;

  constructor(deps: { redis: Redis; prefix: string; key: Buffer }) {
    if (deps.key.length !== 32) throw new Error(`the secrets key must be 32 bytes, not ${deps.key.length}`);
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.key = deps.key;
    this.kid = createHmac("sha256", deps.key).update("dstack secrets key id v1").digest("base64url").slice(0, 12);
  }

  /** Names and last update times (ms since the epoch), sorted by name; never values. */
  async list(repo: string): Promise<Array<{ name: string; updatedAt: number }>> {
    const all = await this.redis.hgetall(this.hashKey(repo));
    return Object.entries(all)
      .map(([name, raw]) => ({ name, updatedAt: parseRecord(raw)?.updatedAt ?? 0 }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Adds or replaces a secret. Throws InvalidInputError for a bad repository, name or value. */
  async put(repo: string, name: string, value: string): Promise<void> {
    const hashKey = this.hashKey(repo);
    checkName(name);
    checkValue(name, value);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(repo, name));
    const ct = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    const record: SecretRecord = {
      v: 1,
      kid: this.kid,
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      ct: ct.toString("base64"),
      updatedAt: Date.now(),
    };
    await this.redis.hset(hashKey, name, JSON.stringify(record));
  }

  /** Removes a secret; false when there was none of that name. */
  async delete(repo: string, name: string): Promise<boolean> {
    return (await this.redis.hdel(this.hashKey(repo), name)) === 1;
  }

  /**
   * Every secret of the repository, decrypted. Throws SecretsKeyError when they were stored under
   * another key, CorruptSecretError when a record was altered: a run never starts with a secret
   * silently missing.
   */
  async values(repo: string): Promise<Record<string, string>> {
    const all = await this.redis.hgetall(this.hashKey(repo));
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[name] = this.decrypt(repo, name, raw);
    }
    return out;
  }

  private decrypt(repo: string, name: string, raw: string): string {
    const record = parseRecord(raw);
    const where = `secret ${name} of ${normalRepo(repo)}`;
    if (record === undefined) throw new CorruptSecretError(`${where} is not a valid record; delete it and add it again`);
    if (record.kid !== this.kid) {
      throw new SecretsKeyError(
        `${where} was stored under a different DSTACK_SECRETS_KEY: set DSTACK_SECRETS_KEY (or the data dir's keys/secrets-key) back to the key it was stored with, or delete the secret and add it again`,
      );
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(record.iv, "base64"), { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(repo, name));
      decipher.setAuthTag(Buffer.from(record.tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(record.ct, "base64")), decipher.final()]).toString("utf8");
    } catch {
      // GCM's tag check failed (or the IV/tag had a bad length): the record was changed or moved
      // from another secret; the key itself is the right one (its id matched).
      throw new CorruptSecretError(`${where} failed its integrity check (changed outside dstack?); delete it and add it again`);
    }
  }

  private hashKey(repo: string): string {
    return `${this.prefix}:secrets:${normalRepo(repo)}`;
  }
}

function normalRepo(repo: string): string {
  if (!REPO.test(repo) || repo.split("/").some((part) => part === "." || part === "..")) {
    throw new InvalidInputError(`${JSON.stringify(repo)} is not a repository; expected owner/name`);
  }
  return repo.toLowerCase();
}

function associatedData(repo: string, name: string): Buffer {
  return Buffer.from(`dstack-secret-v1\n${normalRepo(repo)}\n${name}`);
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > MAX_SECRET_NAME_LENGTH || !NAME.test(name)) {
    throw new InvalidInputError(
      `secret name ${JSON.stringify(name.slice(0, 80))} is not valid: use ASCII letters, digits and _, not starting with a digit, at most ${MAX_SECRET_NAME_LENGTH} characters`,
    );
  }
  if (name.toUpperCase().startsWith("DSTACK_")) {
    throw new InvalidInputError(`secret name ${name} is reserved: names starting with DSTACK_ are set by dstack itself`);
  }
  if (RESERVED_NAMES.has(name.toUpperCase())) {
    throw new InvalidInputError(`secret name ${name} is reserved: the runner sets ${name.toUpperCase()} itself; choose another name`);
  }
}

function checkValue(name: string, value: string): void {
  if (value.length === 0) throw new InvalidInputError(`secret ${name} has an empty value`);
  if (value.includes("\0")) throw new InvalidInputError(`secret ${name} contains a NUL byte, which an environment variable cannot hold`);
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > MAX_SECRET_VALUE_BYTES) {
    throw new InvalidInputError(`secret ${name} is ${bytes} bytes; the most a secret may hold is ${MAX_SECRET_VALUE_BYTES} bytes`);
  }
}

function parseRecord(raw: string): SecretRecord | undefined {
  try {
    const parsed = SecretRecord.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Not JSON: reported as a damaged record by the caller.
    return undefined;
  }
}
