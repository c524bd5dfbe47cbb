/** A file found under an artifact path, with what the guards read from its `lstat`. */
export interface FoundFile {
  abs: string;
  rel: string;
  size: number;
  /** `st_nlink`: how many names the file has. */
  links: number;
  /** `dev:ino`, the file's identity whatever its name. */
  inode: string;
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Drops the files an artifact must not carry, each with a warning line in the run's log:
 *
 * - a name with a control character (a line break, a tab, ESC): the path becomes an object key, a
 *   line of the check run and of the PR comment, and the text of a Markdown link;
 * - a hard link whose other names are not all among the files collected. Its other name may be
 *   outside the working directory (`ln /etc/passwd out/p`, `ln ~/.aws/credentials out/c` on the same
 *   filesystem), and unlike a symbolic link nothing in the path shows it. A file whose every name
 *   is inside the artifacts (a copy made with `cp -al` within them) goes; to keep one linked
 *   elsewhere (a conda environment hard-linked to its package cache), copy it first (`cp`).
 */
export function dropHostileFiles<F extends FoundFile>(files: readonly F[], warn: (line: string) => void, kind: string): F[] {
  const names = new Map<string, number>();
  for (const f of files) names.set(f.inode, (names.get(f.inode) ?? 0) + 1);
  const kept: F[] = [];
  for (const f of files) {
    if (CONTROL.test(f.rel)) {
      warn(`[dstack] warning: ${kind} file ${JSON.stringify(f.rel)} skipped: its name holds a control character (a line break, a tab); rename it\n`);
      continue;
    }
    const inside = names.get(f.inode) ?? 0;
    if (f.links > inside) {
      warn(`[dstack] warning: ${kind} file ${f.rel} skipped: it is a hard link with ${f.links - inside} other name(s) outside the ${kind}s, maybe outside the working directory; copy it instead\n`);
      continue;
    }
    kept.push(f);
  }
  return kept;
}
