import { randomBytes } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import { MIN_SECRET_LENGTH, secretForms } from "../../src/runs/secret-forms.js";
import { SecretMasker } from "../../src/runs/secret-masker.js";

const TOKEN = "hf_Zq8+k/Wm3tR9pL2xV7bN1cY4";
const PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nab\n-----END PRIVATE KEY-----\n";

/** Masks `parts` as consecutive writes of one stream, then flushes. */
function streamed(masker: SecretMasker, parts: Array<string | Buffer>): string {
  const s = masker.stream();
  const out = parts.map((p) => s.write(typeof p === "string" ? Buffer.from(p) : p));
  out.push(s.flush());
  return Buffer.concat(out).toString();
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");
const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** A deterministic PRNG, so a failure of the random-text test can be reproduced. */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe("secretForms", () => {
  it("skips values shorter than the minimum, which would shred the log and point at the value", () => {
    expect(MIN_SECRET_LENGTH).toBe(4);
    expect(secretForms("abc")).toEqual([]);
    const masker = new SecretMasker(["abc", "x"]);
    expect(masker.size).toBe(0);
    expect(masker.maskText("abc x abc")).toBe("abc x abc");
  });

  it("includes the raw value, base64 at three offsets, URL-encoded and JSON-escaped forms", () => {
    const forms = secretForms('p@ss "word"/é');
    expect(forms).toEqual(
      expect.arrayContaining([
        'p@ss "word"/é',
        b64('p@ss "word"/é'),
        encodeURIComponent('p@ss "word"/é'),
        'p@ss \\"word\\"/é',
        'p@ss \\"word\\"/\\u00e9',
      ]),
    );
    expect(forms.every((f) => f.length >= MIN_SECRET_LENGTH)).toBe(true);
  });
});

describe("SecretMasker", () => {
  it("masks the raw value wherever it appears, as often as it appears", () => {
    const masker = new SecretMasker([TOKEN]);
    expect(masker.maskText(`a=${TOKEN} b=${TOKEN}${TOKEN}\n`)).toBe("a=*** b=******\n");
  });

  it("masks base64 at offsets 0, 1 and 2, inside longer base64 text, with and without padding", () => {
    const masker = new SecretMasker([TOKEN]);
    for (const prefix of ["", "u", "us", "usr", "user:"]) {
      for (const suffix of ["", "!", "!!", "!!!"]) {
        for (const encode of [b64, b64url, (s: string) => b64(s).replace(/=+$/, "")]) {
          const encoded = encode(`${prefix}${TOKEN}${suffix}`);
          const masked = masker.maskText(`Authorization: Basic ${encoded}\n`);
          expect(masked).toContain("***");
          // What stays visible encodes the prefix and suffix, plus at most one boundary character
          // each side and the padding: never more than 2 bits of the value per side.
          const visible = masked.length - "Authorization: Basic ***\n".length;
          expect(visible).toBeLessThanOrEqual(Math.ceil((prefix.length * 4) / 3) + Math.ceil((suffix.length * 4) / 3) + 2 + 2);
          expect(masked).not.toContain(b64(TOKEN).slice(4, 20));
        }
      }
    }
    // The value's own base64, padded or not, leaves nothing behind.
    expect(masker.maskText(b64(TOKEN))).toBe("***");
    expect(masker.maskText(`${b64(TOKEN)}.`)).toBe("***.");
    expect(masker.maskText(`${b64(TOKEN).replace(/=+$/, "")}.`)).toBe("***.");
  });

  it("masks URL-encoded, form-encoded and JSON-escaped forms", () => {
    const value = 'tok en/"é"&+=\\';
    const masker = new SecretMasker([value]);
    const shown = [
      encodeURIComponent(value),
      encodeURIComponent(value).toLowerCase(),
      new URLSearchParams({ q: value }).toString().slice(2),
      JSON.stringify(value).slice(1, -1),
      JSON.stringify({ v: value }).replace(/é/g, "\\u00e9"),
    ];
    for (const s of shown) {
      const masked = masker.maskText(`>${s}<`);
      expect(masked).toContain("***");
      expect(masked).not.toContain("tok");
    }
  });

  it("masks a multi-line value whole, and each of its lines printed alone, but not its short lines", () => {
    const masker = new SecretMasker([PEM]);
    expect(masker.maskText(`key:\n${PEM}done\n`)).toBe("key:\n***\ndone\n");
    const lines = PEM.trim().split("\n");
    const indented = lines.map((l) => `    ${l}\n`).join("");
    const masked = masker.maskText(indented);
    expect(masked).toBe(lines.map((l) => (l.length >= 4 ? "    ***\n" : `    ${l}\n`)).join(""));
    expect(masked).toContain("    ab\n");
  });

  it("masks a value split at every byte position across two writes, in every form", () => {
    const value = "s3cr3t-Välue+/=?&x";
    const masker = new SecretMasker([value]);
    for (const form of secretForms(value)) {
      const text = Buffer.from(`before ${form} after\n`);
      const expected = masker.maskText(text.toString());
      expect(expected).toContain("***");
      for (let i = 0; i <= text.length; i++) {
        expect(streamed(masker, [text.subarray(0, i), text.subarray(i)])).toBe(expected);
      }
    }
  });

  it("masks a value split into many small writes, including one byte at a time", () => {
    const masker = new SecretMasker([TOKEN, PEM]);
    const text = `x ${TOKEN} y\n${PEM}${b64(`:${TOKEN}`)}\n`;
    const expected = masker.maskText(text);
    const bytes = Buffer.from(text);
    const single = Array.from(bytes, (b) => Buffer.from([b]));
    expect(streamed(masker, single)).toBe(expected);
    const random = prng(7);
    for (let round = 0; round < 50; round++) {
      const parts: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + Math.floor(random() * 12);
        parts.push(bytes.subarray(at, at + n));
        at += n;
      }
      expect(streamed(masker, parts)).toBe(expected);
    }
    expect(expected).not.toContain(TOKEN);
    expect(expected).not.toContain("MIIEvQ");
  });

  it("finds the same occurrences in one large write as in many small ones", () => {
    const masker = new SecretMasker([TOKEN, PEM, "abab"]);
    const random = prng(11);
    const pieces = [...secretForms(TOKEN), ...secretForms(PEM), "ababab", "x", "y ", "\n", "hf_Zq8", "abc"];
    const parts: string[] = [];
    for (let size = 0; size < 50_000; ) {
      const p = pieces[Math.floor(random() * pieces.length)] as string;
      parts.push(p);
      size += p.length;
    }
    const text = parts.join("");
    const whole = masker.maskText(text);
    expect(whole).not.toContain(TOKEN);
    expect(whole).not.toContain("abab");
    const bytes = Buffer.from(text);
    const small: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 97) small.push(bytes.subarray(at, at + 97));
    // A stream split inside a run of overlapping occurrences masks it as two `***` instead of one;
    // every visible byte is the same.
    const collapse = (t: string) => t.replace(/(\*\*\*)+/g, "***");
    expect(collapse(streamed(masker, small))).toBe(collapse(whole));
  });

  it("masks every byte of overlapping and nested secrets", () => {
    const masker = new SecretMasker(["abcdefgh", "efghijkl", "xyzw", "123xyzw456"]);
    expect(masker.maskText("[abcdefghijkl]")).toBe("[***]");
    expect(masker.maskText("[123xyzw456] [xyzw]")).toBe("[***] [***]");
    const periodic = new SecretMasker(["abab"]);
    expect(periodic.maskText("ababab!")).toBe("***!");
    // Split between the two overlapping secrets: the second one's remaining bytes get their own mask.
    expect(streamed(masker, ["[abcdefgh", "ijkl]"])).toMatch(/^\[\*\*\*(\*\*\*)?\]$/);
    for (let i = 0; i <= 14; i++) {
      const out = streamed(masker, ["[abcdefghijkl]".slice(0, i), "[abcdefghijkl]".slice(i)]);
      expect(out.replace(/\*\*\*/g, "")).toBe("[]");
    }
  });

  it("leaves long random text that contains no secret unchanged", () => {
    const secrets = Array.from({ length: 10 }, () => randomBytes(24).toString("base64url"));
    const masker = new SecretMasker(secrets);
    const random = prng(42);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-% \n";
    const chars: string[] = [];
    for (let i = 0; i < 1_000_000; i++) chars.push(alphabet[Math.floor(random() * alphabet.length)] as string);
    const text = chars.join("");
    expect(masker.maskText(text)).toBe(text);
    const bytes = Buffer.from(text);
    const parts: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 4093) parts.push(bytes.subarray(at, at + 4093));
    expect(streamed(masker, parts)).toBe(text);
  });

  it("holds back only what could start a secret, never more than the longest form less one byte", () => {
    const masker = new SecretMasker([TOKEN, PEM]);
    const s = masker.stream();
    expect(s.write(Buffer.from("epoch 1 loss 0.25\n")).toString()).toBe("epoch 1 loss 0.25\n");
    expect(s.heldBytes).toBe(0);
    expect(s.write(Buffer.from(`token=${TOKEN.slice(0, 10)}`)).toString()).toBe("token=");
    expect(s.heldBytes).toBe(10);
    expect(s.write(Buffer.from(`${TOKEN.slice(10)} ok\n`)).toString()).toBe("*** ok\n");
    expect(s.heldBytes).toBe(0);
    // A prefix that never completes is released at the end, not lost.
    expect(s.write(Buffer.from(`token=${TOKEN.slice(0, 10)}`)).toString()).toBe("token=");
    expect(s.flush().toString()).toBe(TOKEN.slice(0, 10));
    // Whatever arrives, the look-behind stays bounded.
    const random = prng(3);
    const pieces = [TOKEN, TOKEN.slice(0, 9), PEM.slice(0, 40), b64(TOKEN).slice(0, 20), "-----BEGIN", "\n", "x"];
    for (let i = 0; i < 2000; i++) {
      s.write(Buffer.from(pieces[Math.floor(random() * pieces.length)] as string));
      expect(s.heldBytes).toBeLessThanOrEqual(masker.maxNeedleBytes - 1);
    }
  });

  it("resumes from a stored state, so another process can continue a run's log", () => {
    const masker = new SecretMasker([TOKEN]);
    const first = masker.stream();
    const a = first.write(Buffer.from(`key ${TOKEN.slice(0, 7)}`));
    const second = new SecretMasker([TOKEN]).stream({ ...first.state });
    const b = second.write(Buffer.from(`${TOKEN.slice(7)}\n`));
    expect(Buffer.concat([a, b, second.flush()]).toString()).toBe("key ***\n");
  });

  it("passes bytes through untouched when there is nothing to mask", () => {
    const s = new SecretMasker().stream();
    const chunk = Buffer.from("hello\n");
    expect(s.write(chunk)).toBe(chunk);
    expect(s.flush().length).toBe(0);
  });
});
