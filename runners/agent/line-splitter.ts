/**
 * Cuts one (already masked) output stream into whole lines before they are shipped, so stdout and
 * stderr never interleave inside a line. A line longer than `maxLineBytes` is passed on in pieces
 * of that size (a progress bar without newlines must still stream). Masking happens before, on
 * the byte stream (SecretMaskingStream), so neither a split read nor a giant line lets a secret
 * through.
 */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;

  /** @param emit receives whole lines (with their `\n`) or, at the end, the unterminated rest. */
  constructor(
    private readonly emit: (chunk: Buffer) => void,
    private readonly maxLineBytes = 64 * 1024,
  ) {}

  write(chunk: Buffer): void {
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl === -1) {
      this.keep(chunk);
      return;
    }
    let from = 0;
    if (this.partialBytes > 0) {
      // Finish the pending line with a small copy; the chunk's other lines pass uncopied.
      const firstNl = chunk.indexOf(0x0a);
      this.emit(Buffer.concat([...this.partial, chunk.subarray(0, firstNl + 1)]));
      this.partial = [];
      this.partialBytes = 0;
      from = firstNl + 1;
    }
    if (from <= lastNl) this.emit(chunk.subarray(from, lastNl + 1));
    if (lastNl + 1 < chunk.length) this.keep(chunk.subarray(lastNl + 1));
  }

  /** Passes on what is left (the output ended without a final newline). */
  end(): void {
    if (this.partialBytes > 0) this.emit(Buffer.concat(this.partial));
    this.partial = [];
    this.partialBytes = 0;
  }

  private keep(rest: Buffer): void {
    // Copy: the stream may reuse the buffer it handed us.
    this.partial.push(Buffer.from(rest));
    this.partialBytes += rest.length;
    if (this.partialBytes >= this.maxLineBytes) {
      const all = Buffer.concat(this.partial);
      this.partial = [];
      this.partialBytes = 0;
      let at = 0;
      for (; all.length - at >= this.maxLineBytes; at += this.maxLineBytes) this.emit(all.subarray(at, at + this.maxLineBytes));
      if (at < all.length) this.keep(all.subarray(at));
    }
  }
}
