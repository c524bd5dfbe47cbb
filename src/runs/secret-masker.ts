/**
 * Replaces every occurrence of a registered secret in byte chunks with `***`.
 * Each secret is registered with its base64 and URL-encoded forms too, since programs print those
 * (an Authorization header, a URL with a token). Masking is byte-exact and works on Buffers so the
 * log path never decodes text; a secret split across two chunks is caught only when the chunks are
 * line-aligned (the agent sends whole lines), which is the same limit GitHub Actions documents.
 */
export class SecretMasker {
  private readonly needles: Buffer[] = [];
  static readonly MASK = Buffer.from("***");
  /** Values shorter than this are not masked: masking `1` or `a` would destroy the log. */
  static readonly MIN_LENGTH = 4;

  add(secret: string): void {
    if (secret.length < SecretMasker.MIN_LENGTH) return;
    const forms = new Set([secret, Buffer.from(secret).toString("base64"), encodeURIComponent(secret)]);
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= SecretMasker.MIN_LENGTH) forms.add(line);
    for (const form of forms) {
      const b = Buffer.from(form);
      if (!this.needles.some((n) => n.equals(b))) this.needles.push(b);
    }
    // Longest first, so a secret that contains another is masked whole.
    this.needles.sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.needles.length;
  }

  mask(chunk: Buffer): Buffer {
    if (this.needles.length === 0) return chunk;
    let out = chunk;
    for (const needle of this.needles) {
      let at = out.indexOf(needle);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), SecretMasker.MASK);
        from = at + needle.length;
        at = out.indexOf(needle, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  maskText(text: string): string {
    return this.needles.length === 0 ? text : this.mask(Buffer.from(text)).toString();
  }
}
