/** What a masked occurrence becomes. */
const MASK = Buffer.from("***");

/**
 * Below this many bytes a write is scanned byte by byte in JavaScript (a table lookup per byte);
 * above it, with one native `Buffer.indexOf` pass per needle family. Each indexOf call costs
 * ~0.4 µs of fixed overhead, which dominates for the one-line writes of a quiet workflow, while a
 * flood's 64 KiB pipe reads go faster natively (bench/spine.ts, "log path").
 */
const SCAN_MAX_BYTES = 2048;

/**
 * A compiled set of byte strings to mask. Needles that start with a shorter needle are searched
 * as that shorter needle's "family": one search finds them all (a secret's base64 with padding,
 * without, and its stable middle share one pass), and a match is extended to the longest family
 * member present.
 */
export class NeedleSet {
  /** Pairwise not prefixes of one another; each is searched for. */
  private readonly roots: Buffer[] = [];
  /** Per root, the longer needles it is a prefix of, longest first. */
  private readonly families: Buffer[][] = [];
  /** Per first byte, the indexes of the roots starting with it. */
  private readonly rootsByFirstByte: Array<number[] | undefined> = new Array<number[] | undefined>(256);
  /** Per first byte, the needles that are no other needle's prefix (enough to find partial matches at the end). */
  private readonly leavesByFirstByte: Array<Buffer[] | undefined> = new Array<Buffer[] | undefined>(256);
  /** 1 for each byte value that occurs in some needle. */
  private readonly inNeedle = new Uint8Array(256);
  /** Longest needle in bytes (0 when empty); at most this minus one byte is ever held back. */
  readonly maxBytes: number;

  constructor(needles: Iterable<Buffer>) {
    const unique: Buffer[] = [];
    for (const n of needles) if (n.length > 0 && !unique.some((u) => u.equals(n))) unique.push(n);
    unique.sort((a, b) => a.length - b.length);
    for (const n of unique) {
      const root = this.roots.findIndex((r) => r.length < n.length && startsWith(n, r));
      if (root === -1) {
        (this.rootsByFirstByte[n[0] as number] ??= []).push(this.roots.length);
        this.roots.push(n);
        this.families.push([]);
      } else {
        this.families[root]?.unshift(n);
      }
      for (const b of n) this.inNeedle[b] = 1;
    }
    for (const n of unique) {
      if (unique.some((o) => o.length > n.length && startsWith(o, n))) continue;
      (this.leavesByFirstByte[n[0] as number] ??= []).push(n);
    }
    this.maxBytes = unique.length === 0 ? 0 : (unique[unique.length - 1] as Buffer).length;
  }

  get size(): number {
    return this.roots.length + this.families.reduce((sum, f) => sum + f.length, 0);
  }

  /**
   * Every complete occurrence in `buf`, overlapping ones merged into one interval, sorted:
   * `[start0, end0, start1, end1, ...]`. Merging (rather than leftmost-longest) masks every byte
   * of every secret when two secrets' occurrences overlap; overlapping occurrences of one needle
   * (a periodic value) are all found.
   */
  findMatches(buf: Buffer): number[] {
    const found = buf.length <= SCAN_MAX_BYTES ? this.scan(buf) : this.search(buf);
    if (found.length <= 2) return found;
    const merged: number[] = [];
    for (let i = 0; i < found.length; i += 2) {
      const s = found[i] as number;
      const e = found[i + 1] as number;
      const last = merged.length - 1;
      if (last > 0 && s < (merged[last] as number)) merged[last] = Math.max(merged[last] as number, e);
      else merged.push(s, e);
    }
    return merged;
  }

  /** Occurrences sorted by start, found with a first-byte table and byte comparisons. */
  private scan(buf: Buffer): number[] {
    const found: number[] = [];
    const len = buf.length;
    for (let at = 0; at < len; at++) {
      const roots = this.rootsByFirstByte[buf[at] as number];
      if (roots === undefined) continue;
      for (const r of roots) {
        const root = this.roots[r] as Buffer;
        if (at + root.length > len || !matchesAt(buf, at, root)) continue;
        found.push(at, this.extend(buf, at, r));
      }
    }
    return found;
  }

  /** Occurrences sorted by start, found with one native indexOf pass per root. */
  private search(buf: Buffer): number[] {
    const pairs: Array<[number, number]> = [];
    for (let r = 0; r < this.roots.length; r++) {
      const root = this.roots[r] as Buffer;
      for (let at = buf.indexOf(root); at !== -1; at = buf.indexOf(root, at + 1)) pairs.push([at, this.extend(buf, at, r)]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    return pairs.flat();
  }

  /** End of the longest member of root `r`'s family that occurs at `at` (the root itself occurs there). */
  private extend(buf: Buffer, at: number, r: number): number {
    for (const member of this.families[r] as Buffer[]) {
      if (at + member.length <= buf.length && matchesAt(buf, at, member)) return at + member.length;
    }
    return at + (this.roots[r] as Buffer).length;
  }

  /**
   * Where the longest suffix of `buf` that is a proper prefix of some needle starts (`buf.length`
   * when none): bytes from there on could be the start of an occurrence that the next bytes
   * complete. At most `maxBytes - 1` bytes from the end.
   */
  holdPoint(buf: Buffer): number {
    const end = buf.length;
    // Such a suffix holds needle bytes only: start after the last byte no needle has (a line's
    // final newline, usually), which makes the common case O(1).
    let from = end;
    const lowest = Math.max(0, end - this.maxBytes + 1);
    while (from > lowest && this.inNeedle[buf[from - 1] as number] === 1) from--;
    // Earliest first: the first position whose rest is a proper prefix of a needle wins.
    for (let s = from; s < end; s++) {
      const candidates = this.leavesByFirstByte[buf[s] as number];
      if (candidates === undefined) continue;
      for (const n of candidates) {
        if (n.length > end - s && prefixMatches(buf, s, end, n)) return s;
      }
    }
    return end;
  }
}

/** Whether `needle` occurs in `buf` at `at` (the caller checked that it fits). */
function matchesAt(buf: Buffer, at: number, needle: Buffer): boolean {
  for (let k = needle.length - 1; k >= 0; k--) if (buf[at + k] !== needle[k]) return false;
  return true;
}

/** Whether `buf[from, end)` equals the start of `needle` (shorter than it). */
function prefixMatches(buf: Buffer, from: number, end: number, needle: Buffer): boolean {
  for (let k = 0; from + k < end; k++) if (buf[from + k] !== needle[k]) return false;
  return true;
}

function startsWith(b: Buffer, prefix: Buffer): boolean {
  return b.length >= prefix.length && b.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** A masking stream's carry-over between writes, small enough to store (at most `maxBytes - 1` bytes). */
export interface MaskingState {
  /** Bytes not yet emitted for good: the possible start of an occurrence. */
  held: Buffer;
  /** How many of `held`'s first bytes were already emitted (as part of a `***`). */
  covered: number;
}

/**
 * Masks a byte stream that arrives in any split: an occurrence split across two writes of the
 * workflow, two pipe reads or two log requests is still replaced by `***`. Bounded look-behind:
 * after each write it holds back only the bytes that could begin an occurrence (a suffix that is
 * a proper prefix of some needle, so at most the longest needle's length minus one), and emits
 * everything before them. Ordinary output, which ends in a newline and starts no secret form,
 * passes through at once; `flush()` emits the rest when the output ends.
 *
 * Overlapping occurrences become one `***`; an occurrence continuing a `***` already emitted gets
 * its own `***` for its remaining bytes, so no byte of a secret is emitted and nothing is held
 * without bound.
 */
export class SecretMaskingStream {
  private held: Buffer;
  private covered: number;

  constructor(
    private readonly needles: NeedleSet,
    state: MaskingState = { held: Buffer.alloc(0), covered: 0 },
  ) {
    this.held = state.held;
    this.covered = state.covered;
  }

  /** Bytes held back right now (never more than the longest needle's length minus one). */
  get heldBytes(): number {
    return this.held.length;
  }

  /** The carry-over, to resume this stream elsewhere (`new SecretMaskingStream(needles, state)`). */
  get state(): MaskingState {
    return { held: this.held, covered: this.covered };
  }

  /**
   * Masks `chunk` and returns what can be emitted now (possibly a view of `chunk`: node streams
   * hand out a fresh buffer per chunk). The caller may reuse `chunk` afterwards only if it copies
   * the result first; held bytes are always copied.
   */
  write(chunk: Buffer): Buffer {
    if (this.needles.maxBytes === 0 && this.held.length === 0) return chunk;
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    return this.process(buf, false);
  }

  /** Emits everything held back (the output ended); the stream can be written again afterwards. */
  flush(): Buffer {
    return this.held.length === 0 ? Buffer.alloc(0) : this.process(this.held, true);
  }

  private process(buf: Buffer, final: boolean): Buffer {
    const matches = this.needles.findMatches(buf);
    const hold = final ? buf.length : this.needles.holdPoint(buf);
    let pos = this.covered;
    let out: Buffer;
    if (matches.length === 0) {
      out = pos < hold ? buf.subarray(pos, hold) : Buffer.alloc(0);
      pos = Math.max(pos, hold);
    } else {
      const parts: Buffer[] = [];
      for (let i = 0; i < matches.length; i += 2) {
        const start = Math.max(matches[i] as number, pos);
        const end = matches[i + 1] as number;
        // An occurrence wholly inside the held bytes waits for the next write (it may still grow).
        if (start >= hold || end <= pos) continue;
        if (start > pos) parts.push(buf.subarray(pos, start));
        parts.push(MASK);
        pos = end;
      }
      if (pos < hold) {
        parts.push(buf.subarray(pos, hold));
        pos = hold;
      }
      out = Buffer.concat(parts);
    }
    // Copy: the caller may reuse the chunk's memory once write() returns.
    this.held = hold < buf.length ? Buffer.from(buf.subarray(hold)) : Buffer.alloc(0);
    // Held bytes already inside an emitted `***` stay as look-behind: an occurrence may start there.
    this.covered = Math.max(0, pos - hold);
    return out;
  }
}
