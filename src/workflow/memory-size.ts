/** A Map: the unit is a fresh string each time, which a Map hashes faster than an object looks it up. */
const UNIT_MIB: ReadonlyMap<string, number> = new Map(Object.entries({
  "": 1,
  k: 1 / 1024,
  kb: 1 / 1024,
  kib: 1 / 1024,
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
}));

/** `UNIT_MIB`'s usual spellings as written (`GB`, `MiB`), for the fast path of `parseMemorySizeMiB`. */
const USUAL_UNIT_MIB: ReadonlyMap<string, number> = new Map(["MB", "MiB", "GB", "GiB", "TB", "TiB"].map((unit) => [unit, UNIT_MIB.get(unit.toLowerCase()) as number]));

/**
 * Parses a memory size into MiB: `16GB` -> 16384, `512MB` -> 512, `1.5GiB` -> 1536, `1024` -> 1024.
 * Like dstack in 2022, `GB` and `GiB` both mean 1024 MiB. A fraction of a MiB rounds up.
 * Returns undefined for anything else.
 */
export function parseMemorySizeMiB(text: string): number | undefined {
  // The usual `16GB`: whole digits and an upper-case unit, read without the regular expression,
  // match array and lower-case copy below (this runs for every memory field of every workflow).
  let digits = 0;
  while (digits < text.length && text.charCodeAt(digits) >= 0x30 && text.charCodeAt(digits) <= 0x39) digits++;
  const usual = digits > 0 && digits <= 9 ? USUAL_UNIT_MIB.get(text.slice(digits)) : undefined;
  if (usual !== undefined) return Math.ceil(Number(text.slice(0, digits)) * usual - 1e-9);
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const factor = UNIT_MIB.get((match[2] ?? "").toLowerCase());
  if (factor === undefined) return undefined;
  const mib = Number(match[1]) * factor;
  return Number.isFinite(mib) ? Math.ceil(mib - 1e-9) : undefined;
}
