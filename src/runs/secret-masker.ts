import { secretForms } from "./secret-forms.js";
import { NeedleSet, SecretMaskingStream, type MaskingState } from "./secret-masking-stream.js";

/**
 * A run's secrets, compiled for masking: every form of every value (see `secretForms`: the raw
 * value, its lines, base64 at offsets 0/1/2, URL-encoded and JSON-escaped) becomes a needle.
 * Output is masked through `stream()`, one stream per output (stdout, stderr, the log requests of a
 * run), so a value split across writes or chunks is still masked; `maskText` is for whole strings
 * (an error message). Values shorter than MIN_SECRET_LENGTH are not masked (see there why).
 */
export class SecretMasker {
  private readonly values = new Set<string>();
  private compiled: NeedleSet | undefined;

  constructor(values: Iterable<string> = []) {
    for (const v of values) this.add(v);
  }

  add(value: string): void {
    if (this.values.has(value)) return;
    this.values.add(value);
    this.compiled = undefined;
  }

  /** Number of byte strings searched for (0: nothing to mask). */
  get size(): number {
    return this.needles().size;
  }

  /** Longest byte string searched for: a stream holds back at most this minus one byte. */
  get maxNeedleBytes(): number {
    return this.needles().maxBytes;
  }

  /** A masking stream over the values added so far, optionally resuming a stored state. */
  stream(state?: MaskingState): SecretMaskingStream {
    return new SecretMaskingStream(this.needles(), state);
  }

  maskText(text: string): string {
    if (this.needles().maxBytes === 0) return text;
    const s = this.stream();
    return Buffer.concat([s.write(Buffer.from(text)), s.flush()]).toString();
  }

  private needles(): NeedleSet {
    this.compiled ??= new NeedleSet([...this.values].flatMap((v) => secretForms(v).map((f) => Buffer.from(f, "utf8"))));
    return this.compiled;
  }
}
