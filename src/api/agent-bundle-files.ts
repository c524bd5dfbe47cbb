import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";

/** Import specifiers of compiled ESM: `import ... from "x"`, `export ... from "x"`, `import "x"`, `import("x")`. */
const IMPORTS = /(?:^|[\s;])(?:import|export)\s*(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;
/** Files of a package the agent can load (no sources, type declarations or source maps). */
const RUNTIME_FILE = /(\.js|\.cjs|\.mjs|\.json|\.node)$/;

/**
 * The files, relative to `root` (the package root holding `dist/` and `node_modules/`), the runner
 * agent needs on a machine that has nothing but Node: the compiled modules reachable from
 * `dist/runners/agent/main.js` by static and dynamic imports, and the packages they import with
 * those packages' own dependencies (runtime files only). Sorted, so the bundle's bytes are stable.
 */
export function agentBundleFiles(root: string, entry = "dist/runners/agent/main.js"): string[] {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [path.join(root, entry)];
  if (!existsSync(queue[0] as string)) throw new Error(`${entry} is missing: build the service (npm run build) before it serves the agent`);
  while (queue.length > 0) {
    const file = queue.pop() as string;
    const rel = path.relative(root, file);
    if (files.has(rel)) continue;
    files.add(rel);
    for (const m of readFileSync(file, "utf8").matchAll(IMPORTS)) {
      const spec = m[1] ?? m[2] ?? "";
      if (spec.startsWith(".")) queue.push(path.resolve(path.dirname(file), spec));
      else if (!spec.startsWith("node:") && !builtinModules.includes(spec.split("/")[0] ?? "")) packages.add(packageName(spec));
    }
  }
  for (const dir of packageDirs(root, [...packages])) for (const f of walk(dir)) if (RUNTIME_FILE.test(f)) files.add(path.relative(root, f));
  return [...files].sort();
}

function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

/** The folders of `names` and of their dependencies, resolved as Node does (nested node_modules first). */
function packageDirs(root: string, names: string[]): string[] {
  const found = new Set<string>();
  const queue = names.map((name) => ({ name, from: root }));
  while (queue.length > 0) {
    const { name, from } = queue.pop() as { name: string; from: string };
    const dir = resolvePackage(root, name, from);
    if (dir === undefined) throw new Error(`the agent needs the package ${name}, which is not installed`);
    if (found.has(dir)) continue;
    found.add(dir);
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir });
  }
  return [...found];
}

function resolvePackage(root: string, name: string, from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (dir === root || path.dirname(dir) === dir) return undefined;
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    // A package's own nested node_modules are reached through its dependencies instead.
    if (entry.isDirectory() && entry.name !== "node_modules") out.push(...walk(full));
    else if (entry.isFile() || (entry.isSymbolicLink() && statSync(full).isFile())) out.push(full);
  }
  return out;
}
