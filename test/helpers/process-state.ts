import { readFileSync } from "node:fs";

/** Whether `pid` is a live process: alive and not a zombie (a container's init may be slow to reap orphans). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}
