/** Seeded random YAML-ish text and mutations of real files, shared by the property and fast-path tests. */

/** A small seeded generator, so that a failure reproduces. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PIECES = ["workflows:", "variables:", "providers:", "\n", "\n  ", "\n    ", "- ", ": ", "name", "provider", "bash", "python", "commands", "resources", "gpu", "depends-on", "deps", "artifacts", "${{ x }}", "${{", "}}", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a", "<<: ", "? ", "|", ">", "#", "\t", "---", "...", "!!str ", "!tag ", "%YAML 1.2", "..", "/", ":", "0", "3.10", "1e5", "null", "~", "true", "é", "\r\n", "\u0000", "\ufeff", " "];

/** Pieces that reach the corners of a YAML front end: empty items, comments, block scalars, anchors, number-like keys. */
export const YAML_PIECES = [...PIECES, "-", "  ", " #", "|-", ">-", "\n-", "\n- ", "\n  -", "&b ", "*b", "{a: 1}", "[1]", "0x1F", "0o7", "010", "1.0", "1_0", ".inf", "'a''b'", '"\\n"', '"\\x41"', "\n      # c", '"a\n   b"'];

export function garbage(next: () => number, pieces: readonly string[] = PIECES): string {
  let text = "";
  const length = Math.floor(next() * 60);
  for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)] as string;
  return text;
}

export function mutate(text: string, next: () => number, pieces: readonly string[] = PIECES): string {
  let out = text;
  for (let i = 0; i < 1 + Math.floor(next() * 4); i++) {
    const at = Math.floor(next() * (out.length + 1));
    const cut = Math.floor(next() * 8);
    out = out.slice(0, at) + (next() < 0.5 ? (pieces[Math.floor(next() * pieces.length)] as string) : "") + out.slice(at + cut);
  }
  return out;
}
