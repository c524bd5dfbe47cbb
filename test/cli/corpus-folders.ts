import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * The workflow corpus (test/fixtures/dstack-workflows/, a copy of ../shared/fixtures/) laid out as repositories for
 * `dstack validate`: one folder per corpus file, holding it at its place in `.dstack/` (from its README
 * kind: variables.yaml, providers.yaml, else workflows.yaml; the Dec 2022 files under workflows/)
 * beside the companion files the corpus pairs it with, as test/workflow/load-workflows.corpus.test.ts
 * pairs them (that test's command-line variables aside: `dstack validate` takes none).
 * Used by test/cli and by bench/workflow-plan.ts, which finds the corpus from dist/, so the folder
 * is a parameter here.
 */

interface Layout {
  /** Where the file itself goes, relative to the repository (default: from its README kind). */
  as?: string;
  /** Companion corpus files: [file, path (default: from its README kind)]. */
  with?: Array<[string, string?]>;
}

const LAYOUTS: Readonly<Record<string, Layout>> = {
  "03-gpt2-2021-variables-as-args.yaml": { with: [["04-gpt2-2021-variables-global.yaml"]] },
  "08-examples-2022-02-mnist-image-depends.yaml": { with: [["09-examples-2022-02-variables.yaml"]] },
  "12-docs-2022-03-gpt2-depends-list.yaml": { with: [["10-gpt2-2022-03-variables.yaml"]] },
  "14-examples-2022-03-gpu-variable.yaml": { with: [["09-examples-2022-02-variables.yaml"]] },
  "16-simple-provider-workflow.yaml": { with: [["17-simple-provider-providers.yaml"]] },
  "18-recohut-version-tags.yaml": { with: [["19-recohut-variables-two-sections.yaml"]] },
  "21-mmahesh-two-var-sections.yaml": { with: [["22-mmahesh-variables-two.yaml"]] },
  "23-mmahesh-python-schema-object.yaml": { with: [["22-mmahesh-variables-two.yaml"]] },
  "24-mmahesh-custom-provider-workflows.yaml": { with: [["25-mmahesh-custom-provider-providers.yaml"], ["22-mmahesh-variables-two.yaml"]] },
  "26-mmahesh-python-quoted.yaml": { with: [["22-mmahesh-variables-two.yaml"]] },
  "29-pragasv-artifacts-typo.yaml": { with: [["30-pragasv-variables.yaml"]] },
  "32-rajeshai-environment-map.yaml": { with: [["33-rajeshai-variables-pgpu.yaml"]] },
  "38-oleg-python-version-38.yaml": { with: [["39-oleg-variables.yaml"]] },
  "40-dewarp-memory-cpu-bad-provider.yaml": { with: [["41-dewarp-variables-strings.yaml"]] },
  "42-oleg-tag-dep-external.yaml": { with: [["39-oleg-variables.yaml"]] },
  "43-examples-2022-05-script-latest.yaml": { with: [["44-examples-2022-05-variables.yaml"]] },
  "45-ivan-provider-at-branch.yaml": { with: [["46-ivan-torchrun-providers.yaml"]] },
  "55-dstack-2022-07-hello-file.yaml": { with: [["59-dstack-2022-07-providers-registry.yaml"]] },
  "74-examples-2022-12-apps-ports.yaml": { as: ".dstack/workflows/apps.yaml" },
  "75-examples-2022-12-args-run-args.yaml": { as: ".dstack/workflows/args.yaml" },
  "76-examples-2022-12-artifacts-mount.yaml": { as: ".dstack/workflows/artifacts.yaml" },
  "77-examples-2022-12-conda.yaml": { as: ".dstack/workflows/conda.yaml" },
  "78-examples-2022-12-deps.yaml": { as: ".dstack/workflows/deps.yaml", with: [["76-examples-2022-12-artifacts-mount.yaml", ".dstack/workflows/artifacts.yaml"]] },
  "79-examples-2022-12-dev-environments.yaml": { as: ".dstack/workflows/dev-environments.yaml" },
  "80-examples-2022-12-envs.yaml": { as: ".dstack/workflows/envs.yaml" },
  "81-examples-2022-12-hello.yaml": { as: ".dstack/workflows/hello.yaml" },
  "82-examples-2022-12-python-version.yaml": { as: ".dstack/workflows/python.yaml" },
  "83-examples-2022-12-resources.yaml": { as: ".dstack/workflows/resources.yaml" },
};

/** One corpus file's repository: each file to write (corpus name, path in the repository), the file itself first. */
export interface CorpusRepo {
  name: string;
  files: Array<{ corpusFile: string; path: string }>;
}

/** Every corpus file (sorted) with the repository `dstack validate` sees it in. */
export async function corpusRepos(corpusDir: string): Promise<CorpusRepo[]> {
  const kinds = await readKinds(corpusDir);
  const defaultPath = (name: string): string => {
    const kind = kinds.get(name);
    if (kind === undefined) throw new Error(`${name} is not in the corpus README`);
    if (kind === "variables.yaml") return ".dstack/variables.yaml";
    if (kind === "providers.yaml") return ".dstack/providers.yaml";
    return ".dstack/workflows.yaml";
  };
  const names = (await readdir(corpusDir)).filter((f) => f.endsWith(".yaml")).sort();
  return names.map((name) => {
    const layout = LAYOUTS[name] ?? {};
    const companions = (layout.with ?? []).map(([file, at]) => ({ corpusFile: file, path: at ?? defaultPath(file) }));
    return { name, files: [{ corpusFile: name, path: layout.as ?? defaultPath(name) }, ...companions] };
  });
}

/** Writes a repository under `root` (a folder named after the corpus file, without `.yaml`) and returns its path. */
export async function writeCorpusRepo(corpusDir: string, repo: CorpusRepo, root: string): Promise<string> {
  const dir = path.join(root, repo.name.replace(/\.yaml$/, ""));
  for (const file of repo.files) {
    const target = path.join(dir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, await readFile(path.join(corpusDir, file.corpusFile)));
  }
  return dir;
}

/** Each file's kind, from the README's table (`| \`file\` | era | kind | what |`). */
async function readKinds(corpusDir: string): Promise<Map<string, string>> {
  const kinds = new Map<string, string>();
  for (const line of (await readFile(path.join(corpusDir, "README.md"), "utf8")).split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const file = /^`([^`]+\.yaml)`$/.exec(cells[1] ?? "")?.[1];
    if (file !== undefined) kinds.set(file, cells[3] ?? "");
  }
  return kinds;
}
