import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadWorkflows } from "../../src/workflow/index.js";
import type { Problem } from "../../src/workflow/index.js";
import { runCli } from "../cli/cli-process.js";

/**
 * The hostile workflow files of `test/fixtures/fuzz/yaml/` (see its README) through `loadWorkflows`,
 * the code the service's push validation, `dstack run` and `dstack validate` share, in both parse
 * modes, and through the built `dstack validate`: each gives its error at its line and column, fast,
 * and nothing in them is ever run.
 */

const CORPUS = fileURLToPath(new URL("../fixtures/fuzz/yaml/", import.meta.url));

/** What each file must give: an error with this code at this position; `null`: no error at all. */
const EXPECTED: Record<string, { code: string; line: number; column: number } | null> = {
  "alias-bomb.yaml": { code: "alias-expansion", line: 9, column: 13 },
  "merge-bomb.yaml": { code: "alias-expansion", line: 7, column: 15 },
  "bad-indentation.yaml": { code: "yaml-syntax", line: 3, column: 1 },
  "tab-indentation.yaml": { code: "yaml-syntax", line: 3, column: 1 },
  "truncated.yaml": { code: "yaml-syntax", line: 4, column: 35 },
  "unclosed-quote.yaml": { code: "yaml-syntax", line: 6, column: 1 },
  "unclosed-flow.yaml": { code: "yaml-syntax", line: 5, column: 1 },
  "js-function-tag.yaml": { code: "custom-tag", line: 3, column: 15 },
  "python-object-tag.yaml": { code: "custom-tag", line: 4, column: 15 },
  "custom-tag.yaml": { code: "custom-tag", line: 3, column: 15 },
  "deep-flow-nesting.yaml": { code: "too-deep", line: 1, column: 111 },
  "deep-block-nesting.yaml": { code: "too-deep", line: 2, column: 201 },
  "deep-map-nesting.yaml": { code: "too-deep", line: 1, column: 408 },
  "huge-string.yaml": { code: "unknown-provider", line: 3, column: 15 },
  "duplicate-keys.yaml": { code: "duplicate-key", line: 5, column: 5 },
  "nul-byte.yaml": { code: "invalid-name", line: 2, column: 11 },
  "bom-invalid.yaml": { code: "unknown-field", line: 4, column: 5 },
  "crlf-invalid.yaml": { code: "unknown-field", line: 5, column: 5 },
  "good.yaml": null,
  "bom-crlf-good.yaml": null,
};

const files = readdirSync(CORPUS).filter((f) => f.endsWith(".yaml")).sort();
let canaryDir: string;
let canary: string;

beforeAll(async () => {
  canaryDir = await mkdtemp(path.join(os.tmpdir(), "dstack-fuzz-yaml-"));
  canary = path.join(canaryDir, "canary");
  // The tag files name this variable: were a tag ever constructed or run, the canary would appear.
  process.env.DSTACK_FUZZ_CANARY = canary;
});

afterAll(async () => {
  delete process.env.DSTACK_FUZZ_CANARY;
  await rm(canaryDir, { recursive: true, force: true });
});

function load(file: string, mode: "auto" | "full"): { problems: Problem[]; ms: number } {
  const text = readFileSync(path.join(CORPUS, file), "utf8");
  const started = performance.now();
  const { problems } = loadWorkflows([{ path: ".dstack/workflows.yaml", text }], {}, mode);
  return { problems, ms: performance.now() - started };
}

function firstError(problems: Problem[]): Problem | undefined {
  return problems.find((p) => p.severity === "error");
}

describe("the hostile YAML corpus", () => {
  it("has an expectation for every file, and a README naming each", () => {
    const readme = readFileSync(path.join(CORPUS, "..", "README.md"), "utf8");
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const file of files) expect(readme).toContain(`\`${file}\``);
  });

  for (const mode of ["auto", "full"] as const) {
    it(`gives each file its error at its line and column (${mode} parse), with printable, bounded messages`, () => {
      const lines: string[] = [];
      for (const file of files) {
        const { problems, ms } = load(file, mode);
        const expected = EXPECTED[file];
        const errors = problems.filter((p) => p.severity === "error");
        const error = expected ? errors.find((p) => p.code === expected.code) : errors[0];
        lines.push(`${file}: ${error ? `${error.line}:${error.column} ${error.code}` : "valid"} (${ms.toFixed(1)} ms)`);
        if (expected === null) {
          expect({ file, error }).toEqual({ file, error: undefined });
          continue;
        }
        expect({ file, error: error && { code: error.code, line: error.line, column: error.column } }).toEqual({ file, error: expected });
        for (const p of problems) {
          // eslint-disable-next-line no-control-regex -- a NUL or escape must never reach a terminal or an annotation
          expect(p.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
          expect(p.message.length).toBeLessThanOrEqual(2000);
        }
      }
      process.stdout.write(`hostile YAML (${mode}):\n  ${lines.join("\n  ")}\n`);
      expect(existsSync(canary)).toBe(false);
    });
  }

  it("refuses alias bombs in under 100 ms with bounded memory, in both parse modes", () => {
    for (const file of ["alias-bomb.yaml", "merge-bomb.yaml"]) {
      for (const mode of ["auto", "full"] as const) {
        load(file, mode); // warm the code paths: the figure is the refusal, not the first compile
        const before = process.memoryUsage().rss;
        const times = [0, 1, 2].map(() => load(file, mode).ms);
        const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
        const best = Math.min(...times);
        process.stdout.write(`${file} (${mode}): refused in ${best.toFixed(1)} ms (best of 3), RSS growth ${grownMiB.toFixed(1)} MiB\n`);
        expect(best).toBeLessThan(100);
        expect(grownMiB).toBeLessThan(50);
      }
    }
  });

  it("keeps a file of 30,000 aliases linear (each alias was resolved by a walk of the whole document)", () => {
    // A tab in a comment sends the file to parseDocument, whose Alias.resolve walked the document per alias.
    const text = `# \tslow path\nworkflows:\n  - name: a\n    provider: bash\n    commands: &c [echo]\n    artifacts: [${"*c,".repeat(30_000)}]\n`;
    const started = performance.now();
    const { problems } = loadWorkflows([{ path: ".dstack/workflows.yaml", text }]);
    const ms = performance.now() - started;
    process.stdout.write(`30,000 aliases (${text.length} bytes): ${ms.toFixed(0)} ms, ${problems.length} problems\n`);
    expect(ms).toBeLessThan(10_000);
    expect(firstError(problems)?.line).toBe(6);
  });

  it("reports the same through the built `dstack validate` (every corpus file as a `.dstack/workflows/*.yaml`)", async () => {
    const dir = path.join(canaryDir, "repo");
    await mkdir(path.join(dir, ".dstack", "workflows"), { recursive: true });
    for (const file of files) await copyFile(path.join(CORPUS, file), path.join(dir, ".dstack", "workflows", file));
    const result = await runCli(["validate", "--json"], dir, { env: { DSTACK_FUZZ_CANARY: canary } });
    expect(result.code).toBe(1);
    const reported = JSON.parse(result.stdout) as Array<{ file: string; line: number; column: number; severity: string }>;
    for (const [file, expected] of Object.entries(EXPECTED)) {
      const errors = reported.filter((p) => p.file === `.dstack/workflows/${file}` && p.severity === "error");
      if (expected === null) expect({ file, errors }).toEqual({ file, errors: [] });
      else expect(errors.some((p) => p.line === expected.line && p.column === expected.column)).toBe(true);
    }
    expect(existsSync(canary)).toBe(false);
  });
});
