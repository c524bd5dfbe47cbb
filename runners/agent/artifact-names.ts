/**
 * A file whose path contains a secret (`out/token-$API_TOKEN.txt`) is uploaded under the masked
 * path (`out/token-***.txt`): an artifact's path becomes an object key, a line of the check-run
 * summary and of the PR comment, and a download link, none of which may carry the value. Its bytes
 * are the user's own and go unchanged (README, "Secrets"). Two files that mask to the same path
 * keep the first (in path order); the others are skipped with a warning, never overwritten.
 */
export function maskArtifactNames<F extends { rel: string }>(files: F[], mask: (text: string) => string, warn: (line: string) => void, kind: string): F[] {
  const taken = new Set<string>();
  const out: F[] = [];
  for (const f of files) {
    const rel = mask(f.rel);
    if (rel !== f.rel) warn(`[dstack] warning: the path of a file contains a secret: the ${kind} is uploaded as ${rel}\n`);
    if (taken.has(rel)) {
      warn(`[dstack] warning: ${kind} file ${rel} skipped: another file's path masks to the same name\n`);
      continue;
    }
    taken.add(rel);
    out.push(rel === f.rel ? f : { ...f, rel });
  }
  return out;
}
