import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CORPUS_DIR } from "../workflow/corpus.js";
import { runCli, runCliInProcess } from "./cli-process.js";
import { corpusRepos, writeCorpusRepo } from "./corpus-folders.js";
import type { CorpusRepo } from "./corpus-folders.js";

/** `dstack validate [--json] [dir]` (DESIGN.md §7): the real built CLI against temp repositories and the corpus. */

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "dstack-validate-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, stdio: "ignore" });
}

/** A repository folder under `root` with the given files (paths relative to it). */
async function repo(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

const HELLO = ["workflows:", "  - name: hello", "    provider: bash", "    commands:", "      - echo hello", ""].join("\n");

const BROKEN = {
  ".dstack/workflows.yaml": [
    "workflows:",
    "  - name: download",
    "    provider: curl",
    "    url: https://example.com/data.csv",
    "    output: data/data.csv",
    "    artifacts: [data]",
    "",
    "  - name: train",
    "    provider: python",
    "    file: train.py",
    "    depends-on: [downlaod]",
    "    resources:",
    "      gpu: ${{ gpus }}",
    "",
  ].join("\n"),
  ".dstack/workflows/eval.yaml": [
    "workflows:",
    "  - name: evaluate",
    "    provider: bash",
    "    commands:",
    "      - python eval.py",
    "    artifacts: [../results]",
    "    deps: [train:latest]",
    "",
  ].join("\n"),
  ".dstack/variables.yaml": ["variables:", "  global:", "    gpus: 1", "  trian:", "    epochs: 10", ""].join("\n"),
};

const BROKEN_PROBLEMS = [
  { file: ".dstack/variables.yaml", line: 4, column: 3, severity: "warning", message: "variables for `trian`, which is not a workflow — did you mean `train`?" },
  {
    file: ".dstack/workflows.yaml",
    line: 11,
    column: 18,
    severity: "error",
    message: "workflow `train` depends on `downlaod`, which is not defined — did you mean `download`?",
  },
  {
    file: ".dstack/workflows/eval.yaml",
    line: 6,
    column: 17,
    severity: "error",
    message: "artifact path `../results` leaves the working directory (`..`); artifacts are paths inside it, e.g. `output`",
  },
];

/** The problems as seen from `dir`'s parent: each path under `dir`'s name. */
function under(name: string, problems: typeof BROKEN_PROBLEMS): typeof BROKEN_PROBLEMS {
  return problems.map((p) => ({ ...p, file: `${name}/${p.file}` }));
}

describe("dstack validate", () => {
  it("prints nothing on stdout and exits 0 for a clean .dstack/, with a count on stderr", async () => {
    const dir = await repo("clean", { ".dstack/workflows.yaml": HELLO });
    expect(await runCli(["validate", dir], root)).toEqual({ code: 0, stdout: "", stderr: "1 file checked: no problems\n" });
  });

  it("prints warnings as `file:line:col: warning: message` and exits 0 when there are only warnings", async () => {
    const text = ["workflows:", "  - name: train", "    provider: python", "    script: train.py", ""].join("\n");
    const dir = await repo("warnings", { ".dstack/workflows.yaml": text });
    expect(await runCli(["validate", dir], root)).toEqual({
      code: 0,
      stdout: ".dstack/workflows.yaml:4:5: warning: `script` is an older name of `file`; write `file: train.py`\n",
      stderr: "1 file checked: 0 errors, 1 warning\n",
    });
  });

  it("prints every problem of every file of .dstack/, paths relative to DIR, and exits 1 when any is an error", async () => {
    const dir = await repo("broken", BROKEN);
    const result = await runCli(["validate", dir], root);
    expect(result.stdout.split("\n")).toEqual([
      ".dstack/variables.yaml:4:3: warning: variables for `trian`, which is not a workflow — did you mean `train`?",
      ".dstack/workflows.yaml:11:18: error: workflow `train` depends on `downlaod`, which is not defined — did you mean `download`?",
      ".dstack/workflows/eval.yaml:6:17: error: artifact path `../results` leaves the working directory (`..`); artifacts are paths inside it, e.g. `output`",
      "",
    ]);
    expect(result.stderr).toBe("3 files checked: 2 errors, 1 warning\n");
    expect(result.code).toBe(1);
  });

  it("prints `[{file, line, column, severity, message}]` with --json, and nothing on stderr", async () => {
    const dir = await repo("broken-json", BROKEN);
    const result = await runCli(["validate", "--json", dir], root);
    expect(JSON.parse(result.stdout)).toEqual(BROKEN_PROBLEMS);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(1);
  });

  it("prints `[]` with --json and exits 0 for a clean .dstack/", async () => {
    const dir = await repo("clean-json", { ".dstack/workflows.yaml": HELLO });
    const result = await runCli(["validate", dir, "--json"], root);
    expect(result).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
  });

  it("validates the current directory when DIR is not given, paths still relative to it", async () => {
    const dir = await repo("cwd", BROKEN);
    const result = await runCli(["validate", "--json"], dir);
    expect(JSON.parse(result.stdout)).toEqual(BROKEN_PROBLEMS);
    expect(result.code).toBe(1);
  });

  it("locates YAML syntax errors and duplicate keys, and reads .yml files and workflows/*.yaml", async () => {
    await repo("syntax", {
      ".dstack/workflows.yml": ["workflows:", "  - name: a", "    provider: bash", "    commands: [echo a", ""].join("\n"),
      ".dstack/workflows/b.yaml": ["workflows:", "  - name: b", "    provider: bash", "    provider: docker", "    commands: [echo b]", ""].join("\n"),
      ".dstack/notes.txt": "not read",
    });
    const result = await runCli(["validate", "syntax"], root);
    expect(result.stdout.split("\n")).toEqual([
      ".dstack/workflows.yml:5:1: error: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
      ".dstack/workflows/b.yaml:4:5: error: duplicate key `provider` (first at line 3); YAML keeps only one of them (dstack silently kept the last): remove or merge the other",
      "",
    ]);
    expect(result.stderr).toBe("2 files checked: 2 errors, 0 warnings\n");
    expect(result.code).toBe(1);
  });

  it("says in one line, exiting 2, that a folder has no .dstack/", async () => {
    const dir = await repo("no-dstack", { "README.md": "no workflows here" });
    git(dir, "init", "-q");
    expect(await runCli(["validate", "no-dstack"], root)).toEqual({
      code: 2,
      stdout: "",
      stderr: "dstack: no `.dstack/` folder in `no-dstack`: nothing to validate (pass the repository's directory: `dstack validate DIR`)\n",
    });
    expect(await runCli(["validate"], dir)).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "dstack: no `.dstack/` folder in the current directory or above it (up to the repository's top): nothing to validate (pass the repository's directory: `dstack validate DIR`)\n",
    });
  });

  it("finds .dstack/ from any subfolder of the repository, like git finds .git, paths relative to where it runs", async () => {
    const dir = await repo("sub", { ...BROKEN, "src/deep/train.py": "print(1)\n" });
    git(dir, "init", "-q");
    const deep = path.join(dir, "src", "deep");
    const text = await runCli(["validate"], deep);
    expect(text.stdout.split("\n")).toEqual([...under("../..", BROKEN_PROBLEMS).map((p) => `${p.file}:${p.line}:${p.column}: ${p.severity}: ${p.message}`), ""]);
    expect(text.stderr).toBe("3 files checked: 2 errors, 1 warning\n");
    expect(text.code).toBe(1);
    const json = await runCli(["validate", "--json"], deep);
    expect(JSON.parse(json.stdout)).toEqual(under("../..", BROKEN_PROBLEMS));
    // An explicit DIR is still DIR, and paths are relative to it, as they always were.
    expect(JSON.parse((await runCli(["validate", "--json", "../.."], deep)).stdout)).toEqual(BROKEN_PROBLEMS);
  });

  it("takes the nearest .dstack/ and stops at the repository's top, never reading an enclosing folder's", async () => {
    const outer = await repo("outer", BROKEN);
    await repo("outer/nested", { ".dstack/workflows.yaml": HELLO, "a/b.txt": "" });
    expect(await runCli(["validate"], path.join(outer, "nested", "a"))).toEqual({ code: 0, stdout: "", stderr: "1 file checked: no problems\n" });
    // Without a repository in between, the search goes up to outer/.dstack/ ...
    await repo("outer/plain/sub", { "x.txt": "" });
    expect(JSON.parse((await runCli(["validate", "--json"], path.join(outer, "plain", "sub"))).stdout)).toEqual(under("../..", BROKEN_PROBLEMS));
    // ... but a repository's top ends it: outer/.dstack/ is not the repository's.
    const inner = await repo("outer/inner", { "src/x.txt": "" });
    git(inner, "init", "-q");
    expect(await runCli(["validate"], path.join(inner, "src"))).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "dstack: no `.dstack/` folder in the current directory or above it (up to the repository's top): nothing to validate (pass the repository's directory: `dstack validate DIR`)\n",
    });
  });

  it("says in one line, exiting 2, that the nearest .dstack/ above holds nothing to validate, naming it from where it runs", async () => {
    const dir = await repo("empty-above", { ".dstack/config.yaml": "backend: local\n", "src/x.txt": "" });
    git(dir, "init", "-q");
    expect(await runCli(["validate"], path.join(dir, "src"))).toEqual({
      code: 2,
      stdout: "",
      stderr: "dstack: `.dstack/` in `..` has no workflows.yaml, workflows/*.yaml, variables.yaml or providers.yaml: nothing to validate\n",
    });
  });

  it("says in one line, exiting 2, that DIR does not exist or that .dstack/ holds nothing to validate", async () => {
    expect(await runCli(["validate", "missing-folder"], root)).toEqual({ code: 2, stdout: "", stderr: "dstack: `missing-folder` does not exist\n" });
    await repo("empty-dstack", { ".dstack/config.yaml": "backend: local\n" });
    expect(await runCli(["validate", "empty-dstack"], root)).toEqual({
      code: 2,
      stdout: "",
      stderr: "dstack: `.dstack/` in `empty-dstack` has no workflows.yaml, workflows/*.yaml, variables.yaml or providers.yaml: nothing to validate\n",
    });
  });

  it("refuses an unknown option in one line with a suggestion, exiting 2", async () => {
    expect(await runCli(["validate", "--jsn"], root)).toEqual({ code: 2, stdout: "", stderr: "dstack: unknown option '--jsn'; did you mean --json?\n" });
    expect(await runCli(["valdate"], root)).toEqual({ code: 2, stdout: "", stderr: "dstack: unknown command 'valdate'; did you mean validate?\n" });
  });

  it("prints a corpus file's located errors: the `artifiacts` typo with its hint (29, with its variables.yaml)", async () => {
    const repo29 = (await corpusRepos(CORPUS_DIR)).find((r) => r.name === "29-pragasv-artifacts-typo.yaml") as CorpusRepo;
    const dir = await writeCorpusRepo(CORPUS_DIR, repo29, path.join(root, "corpus-29"));
    expect(await runCli(["validate"], dir)).toEqual({
      code: 1,
      stdout: [
        ".dstack/workflows.yaml:6:5: warning: `python_script` is an older name of `file`; write `file: download.py`",
        ".dstack/workflows.yaml:7:5: error: unknown field `artifiacts` for provider `python` — did you mean `artifacts`?",
        ".dstack/workflows.yaml:13:5: warning: `python_script` is an older name of `file`; write `file: train.py`",
        ".dstack/workflows.yaml:16:5: error: unknown field `artifiacts` for provider `python` — did you mean `artifacts`?",
        "",
      ].join("\n"),
      stderr: "2 files checked: 2 errors, 2 warnings\n",
    });
  });
});

describe("dstack run from a subfolder", () => {
  it("reads the repository's .dstack/ and names its problems with paths relative to where it runs", async () => {
    const dir = await repo("run-sub", { ...BROKEN, "src/deep/x.txt": "" });
    git(dir, "init", "-q");
    git(dir, "remote", "add", "origin", "https://example.com/acme/run-sub.git");
    // Refused before any request: the server address is never used.
    const result = await runCli(["run", "train"], path.join(dir, "src", "deep"), { env: { DSTACK_URL: "http://127.0.0.1:9", DSTACK_TOKEN: "unused", XDG_CONFIG_HOME: root } });
    expect(result.code).toBe(2);
    const lines = result.stderr.split("\n");
    expect(lines.some((l) => l.startsWith("../../.dstack/workflows.yaml:11:18: error: workflow `train` depends on `downlaod`"))).toBe(true);
    expect(lines.some((l) => l.startsWith("../../.dstack/workflows/eval.yaml:6:17: error: artifact path `../results`"))).toBe(true);
  });
});

describe("dstack validate over the whole corpus", () => {
  let repos: Array<{ repo: CorpusRepo; dir: string }>;

  beforeAll(async () => {
    const corpusRoot = path.join(root, "corpus");
    repos = [];
    for (const repo of await corpusRepos(CORPUS_DIR)) repos.push({ repo, dir: await writeCorpusRepo(CORPUS_DIR, repo, corpusRoot) });
  });

  it("covers every corpus file", () => {
    expect(repos).toHaveLength(84);
  });

  it("matches the snapshot, and exits 1 exactly where it prints an error", async () => {
    const outputs: string[] = [];
    for (const { repo, dir } of repos) {
      // Run from the repository itself, so the paths are `.dstack/...` whatever the temp folder.
      const result = await runCliInProcess(["validate", "."], dir);
      expect({ file: repo.name, code: result.code }).toEqual({ file: repo.name, code: result.stdout.includes(": error: ") ? 1 : 0 });
      const files = repo.files.map((f) => `${f.corpusFile} as ${f.path}`).join(", ");
      outputs.push(`## ${files}: exit ${String(result.code)}\n${result.stdout}${result.stderr}`);
    }
    expect(outputs.join("\n")).toMatchSnapshot();
  });

  it("prints the same from the built CLI as in process, text and --json", async () => {
    const picked = repos.filter(({ repo }) => /^(02|23|45|78)-/.test(repo.name));
    expect(picked).toHaveLength(4);
    for (const { dir } of picked) {
      for (const args of [["validate", dir], ["validate", "--json", dir]]) {
        expect(await runCli(args, root)).toEqual(await runCliInProcess(args, root));
      }
    }
  });
});
