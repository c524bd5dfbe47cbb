import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM for small server-side values (users' GitHub tokens in sessions) under a key derived
 * from the service's secrets key for this one purpose, so a value sealed here never opens as a
 * repository secret or the other way round. `context` is the associated data: a sealed value moved
 * to another record (another session) fails to open.
 */
export class Sealer {
  private readonly key: Buffer;

  constructor(secretsKey: Buffer, purpose: string) {
    this.key = createHmac("sha256", secretsKey).update(`dstack seal v1\n${purpose}`).digest();
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return [iv, cipher.getAuthTag(), ct].map((b) => b.toString("base64url")).join(".");
  }

  /** The plain text, or undefined for a value sealed under another key or context, or altered. */
  open(sealed: string, context: string): string | undefined {
    const [iv = "", tag = "", ct = ""] = sealed.split(".");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      // A wrong key, context or tag: the caller treats the record as absent (sign in again).
      return undefined;
    }
  }
}
