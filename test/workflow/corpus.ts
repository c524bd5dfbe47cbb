import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatProblem } from "../../src/workflow/index.js";
import type { LoadResult, Problem, SourceFile, Workflow } from "../../src/workflow/index.js";

/**
 * The shared corpus of real 2021-2022 `.dstack/*.yaml` files (`../shared/fixtures/dstack-workflows/`
 * beside the repository; see its README). Read here, never copied into src.
 */
// A copy of ../shared/fixtures/dstack-workflows/ kept in the repository, so a clean clone tests alone.
export const CORPUS_DIR = fileURLToPath(new URL("../fixtures/dstack-workflows/", import.meta.url));

export function corpusFiles(): string[] {
  if (!existsSync(CORPUS_DIR)) throw new Error(`the workflow corpus is missing: expected it at ${CORPUS_DIR}`);
  return readdirSync(CORPUS_DIR).filter((f) => f.endsWith(".yaml")).sort();
}

export function corpusText(name: string): string {
  return readFileSync(`${CORPUS_DIR}${name}`, "utf8");
}

/** Each file's era and kind, from the README's table (`| `file` | era | kind | what |`). */
export function corpusIndex(): Map<string, { era: string; kind: string }> {
  const index = new Map<string, { era: string; kind: string }>();
  for (const line of readFileSync(`${CORPUS_DIR}README.md`, "utf8").split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const file = /^`([^`]+\.yaml)`$/.exec(cells[1] ?? "")?.[1];
    if (file !== undefined) index.set(file, { era: cells[2] ?? "", kind: cells[3] ?? "" });
  }
  return index;
}

let kinds: Map<string, { era: string; kind: string }> | undefined;

/** The path a corpus file is loaded as, from its README kind: variables.yaml, providers.yaml, else a workflows file. */
export function defaultPath(name: string): string {
  kinds ??= corpusIndex();
  const kind = kinds.get(name)?.kind;
  if (kind === undefined) throw new Error(`${name} is not in the corpus README`);
  if (kind === "variables.yaml") return ".dstack/variables.yaml";
  if (kind === "providers.yaml") return ".dstack/providers.yaml";
  return ".dstack/workflows.yaml";
}

/** A corpus file as a `SourceFile`, at `path` (default: from its kind). */
export function corpusFile(name: string, path = defaultPath(name)): SourceFile {
  return { path, text: corpusText(name) };
}

/** The errors of a load, warnings left out. */
export function errors(result: LoadResult): Problem[] {
  return result.problems.filter((p) => p.severity === "error");
}

/** The workflow called `name`; throws with every problem when the load has none such. */
export function byName(result: LoadResult, name: string): Workflow {
  const w = result.workflows.find((x) => x.name === name);
  if (w === undefined) throw new Error(`no workflow ${name}: ${result.problems.map(formatProblem).join("\n")}`);
  return w;
}
