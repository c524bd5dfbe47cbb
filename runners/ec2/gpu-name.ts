/** A GPU as a user names it: `a100` -> `{name: "A100"}`, `A100-80GB` -> `{name: "A100", memoryMiB: 81920}`. */
export interface GpuName {
  /** Canonical model, upper case, as the catalogue spells it (`A10G`, `L40S`). */
  name: string;
  /** Per-GPU memory the name carries (`A100-80GB`), when it does. */
  memoryMiB?: number;
}

/** Names users write for a model the catalogue spells differently (`A10` is the A10G of g5). */
const ALIASES: Readonly<Record<string, string>> = {
  A10: "A10G",
  TESLAK80: "K80",
  TESLAV100: "V100",
  TESLAT4: "T4",
};

/**
 * Parses a GPU name case-insensitively: `a100`, `A100-80GB`, `a100_80gb`, `A100:80G`, `nvidia a10g`,
 * `Tesla V100`. A size suffix (GB, GiB, G) becomes `memoryMiB` (nominal: 80 GB = 81920 MiB).
 */
export function parseGpuName(text: string): GpuName {
  let s = text.trim().toUpperCase().replace(/^NVIDIA[\s_-]*/, "");
  let memoryMiB: number | undefined;
  // A separator is required: `A10G` is a model, not "A" with 10 GB.
  const sized = /^(.+?)[\s_:-]+(\d+)\s*(?:GB|GIB|G)$/.exec(s);
  if (sized !== null) {
    s = sized[1] ?? s;
    memoryMiB = Number(sized[2]) * 1024;
  }
  const compact = s.replace(/[\s_-]+/g, "");
  const name = ALIASES[compact] ?? compact;
  return memoryMiB === undefined ? { name } : { name, memoryMiB };
}
