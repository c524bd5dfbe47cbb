import { isMap, isScalar, isSeq } from "yaml";
import { DstackError } from "../../errors.js";
import { tokenizeCommandLine } from "../command-line/tokenize-command-line.js";
import { describeNode, scalarSource } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext, FieldSpec } from "./field-context.js";
import { readCommands, reportTextReadAsMapping } from "./read-commands.js";
import { readEnv } from "./read-env.js";
import { readResourceKey } from "./read-resources.js";
import { readInt, readText, readTextList, valueOrKey } from "./value-readers.js";

/** Field readers shared by several providers; each provider's schema lists the ones it takes. */

const RUN_ARGS_ONLY = /^\s*\$\{\{\s*run\.args\s*\}\}\s*$/;
const VERSION = /^\d+(\.\d+){0,2}$/;

function relativePath(entry: Entry, ctx: FieldContext, example: string): string | undefined {
  const text = readText(entry, ctx, example);
  if (text === undefined) return undefined;
  const path = text.trim();
  // `includes` first: splitting every path only to find no `..` in it is most of this function's time.
  if (path === "" || path.startsWith("/") || (path.includes("..") && path.split("/").includes(".."))) {
    ctx.report.error(valueOrKey(entry), "invalid-path", `\`${entry.key}\` must be a path inside the repository, e.g. \`${example}\`; got \`${text}\``);
    return undefined;
  }
  // Most paths have no `./` prefix or trailing `/`: no regular expression runs for them.
  if (!path.startsWith("./") && !path.endsWith("/")) return path;
  return path.replace(/^(\.\/)+/, "").replace(/\/+$/, "") || ".";
}

export const fileField: FieldSpec = {
  canonical: "file",
  read(entry, ctx, w) {
    const file = relativePath(entry, ctx, `${entry.key}: train.py`);
    if (file !== undefined) w.file = file;
  },
};

export const renamedToFile: FieldSpec = { ...fileField, renamedTo: "file" };

/** streamlit's name for its script (2022); not an older name, so no warning. */
export const targetField: FieldSpec = fileField;

export const argsField: FieldSpec = {
  canonical: "args",
  read(entry, ctx, w) {
    const value = entry.value;
    if (value === null) return;
    if (isScalar(value)) {
      if (value.value !== null) w.args = tokenize(ctx.text(value), entry, ctx);
      return;
    }
    if (!isSeq(value)) {
      ctx.report.error(entry.keyNode, "invalid-type", `\`args\` must be a list, e.g. \`args: ["--epochs", "10"]\`; got ${describeNode(value)}`);
      return;
    }
    const args: string[] = [];
    for (const item of ctx.yaml.items(value)) {
      if (isMap(item)) {
        reportTextReadAsMapping(item, "this item of `args`", ctx);
        continue;
      }
      if (!isScalar(item) || item.value === null) {
        ctx.report.error(item ?? entry.keyNode, "invalid-type", `an item of \`args\` must be a single value; got ${describeNode(item)}`);
        continue;
      }
      const text = ctx.text(item);
      // `- ${{ run.args }}` stands for all the run's arguments, not one argument holding them.
      if (RUN_ARGS_ONLY.test(scalarSource(item)) && text !== scalarSource(item)) args.push(...tokenize(text, entry, ctx));
      else args.push(text);
    }
    w.args = args;
  },
};

function tokenize(text: string, entry: Entry, ctx: FieldContext): string[] {
  try {
    return tokenizeCommandLine(text);
  } catch (error) {
    if (!(error instanceof DstackError)) throw error;
    ctx.report.error(valueOrKey(entry), "invalid-value", `\`${entry.key}\`: ${error.message}`);
    return [];
  }
}

export const requirementsField: FieldSpec = {
  canonical: "requirements",
  read(entry, ctx, w) {
    const path = relativePath(entry, ctx, "requirements: requirements.txt");
    if (path !== undefined) w.requirements = path;
  },
};

export const versionField: FieldSpec = {
  canonical: "version",
  read(entry, ctx, w) {
    if (isMap(entry.value)) {
      const fallback = ctx.yaml.entries(entry.value).find((e) => e.key === "default");
      const example = fallback && isScalar(fallback.value) ? scalarSource(fallback.value) : "3.10";
      ctx.report.error(
        entry.keyNode,
        "invalid-type",
        `\`${entry.key}\` must be a Python version such as \`${example}\`, not a mapping${fallback ? " (this looks like a JSON Schema pasted in)" : ""}; write \`version: ${example}\``,
      );
      return;
    }
    const text = readText(entry, ctx, "version: 3.10");
    if (text === undefined) return;
    if (!VERSION.test(text.trim())) {
      ctx.report.error(valueOrKey(entry), "invalid-value", `\`${entry.key}\` must be a Python version such as \`3.10\`; got \`${text}\``);
      return;
    }
    w.version = text.trim();
  },
};

export const renamedToVersion: FieldSpec = { ...versionField, renamedTo: "version" };

/** A value that must be one word (an image name, a version), trimmed; undefined after reporting why not. */
function readOneWord(entry: Entry, ctx: FieldContext, what: string, example: string): string | undefined {
  const text = readText(entry, ctx, example);
  if (text === undefined) return undefined;
  if (text.trim() === "" || /\s/.test(text.trim())) {
    ctx.report.error(valueOrKey(entry), "invalid-value", `\`${entry.key}\` must be ${what}, e.g. \`${example}\`; got \`${text}\``);
    return undefined;
  }
  return text.trim();
}

/** The version of an app or IDE (`version: 1.67.2` of OpenVSCode Server), not of Python. */
export const appVersionField: FieldSpec = {
  canonical: "app_version",
  read(entry, ctx, w) {
    const version = readOneWord(entry, ctx, "one version", "version: 1.67.2");
    if (version !== undefined) w.appVersion = version;
  },
};

export const envField: FieldSpec = {
  canonical: "env",
  read(entry, ctx, w) {
    Object.assign(w.env, readEnv(entry, ctx));
  },
};

export const workingDirField: FieldSpec = {
  canonical: "working_dir",
  read(entry, ctx, w) {
    const dir = relativePath(entry, ctx, "working_dir: src");
    if (dir !== undefined) w.workingDir = dir === "." ? undefined : dir;
  },
};

export const setupField: FieldSpec = {
  canonical: "setup",
  read(entry, ctx, w) {
    const commands = readCommands(entry, ctx);
    if (commands !== undefined) w.setup = commands;
  },
};

export const commandsField: FieldSpec = {
  canonical: "commands",
  read(entry, ctx, w) {
    const commands = readCommands(entry, ctx);
    if (commands !== undefined) w.commands = commands;
  },
};

/** dev environments have no `commands`; dstack's own docs gave them some, run before the IDE starts. */
export const commandsAsSetup: FieldSpec = {
  ...setupField,
  renamedTo: "setup",
  renameMessage: "`commands` of a dev environment run before it starts: write `setup:`",
};

export const imageField: FieldSpec = {
  canonical: "image",
  read(entry, ctx, w) {
    const image = readOneWord(entry, ctx, "one Docker image name", "image: ubuntu:22.04");
    if (image !== undefined) w.image = image;
  },
};

export const urlField: FieldSpec = {
  canonical: "url",
  read(entry, ctx, w) {
    const url = readText(entry, ctx, "url: https://example.com/data.csv");
    if (url === undefined) return;
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(url.trim())) {
      ctx.report.error(valueOrKey(entry), "invalid-value", `\`url\` must be a URL such as \`https://example.com/data.csv\`; got \`${url}\``);
      return;
    }
    w.url = url.trim();
  },
};

export const outputField: FieldSpec = {
  canonical: "output",
  read(entry, ctx, w) {
    const output = relativePath(entry, ctx, "output: data/input.txt");
    if (output !== undefined) w.output = output;
  },
};

export const portsField: FieldSpec = {
  canonical: "ports",
  read(entry, ctx, w) {
    if (isSeq(entry.value)) {
      w.ports = entry.value.items.length;
      return;
    }
    const ports = readInt(entry, ctx, 0, "ports: 1");
    if (ports !== undefined) w.ports = ports;
  },
};

export const nodesField: FieldSpec = {
  canonical: "nodes",
  read(entry, ctx, w) {
    const nodes = readInt(entry, ctx, 1, "nodes: 2");
    if (nodes !== undefined) w.resources.nodes = nodes;
  },
};

export const appField: FieldSpec = {
  canonical: "app",
  read(entry, ctx, w) {
    const app = readText(entry, ctx, "app: main:app");
    if (app !== undefined) w.app = app.trim();
  },
};

export const runsField: FieldSpec = {
  canonical: "runs",
  read(entry, ctx, w) {
    const runs = readTextList(entry, ctx, "runs: [angry-fox-1]");
    if (runs !== undefined) w.runs = runs.map((r) => r.trim());
  },
};

export const logdirField: FieldSpec = {
  canonical: "logdir",
  read(entry, ctx, w) {
    const logdir = relativePath(entry, ctx, "logdir: lightning_logs");
    if (logdir !== undefined) w.logdir = logdir;
  },
};

/** A resource written at the workflow level (March 2022: `gpu: 1` beside `provider`). */
function misplacedResource(key: string, example: string): FieldSpec {
  return {
    canonical: `resources.${key}`,
    renamedTo: `resources.${key}`,
    renameMessage: `\`${key}\` belongs under \`resources:\`; write \`resources: {${example}}\``,
    read(entry, ctx, w) {
      readResourceKey(entry, ctx, w.resources);
    },
  };
}

export const misplacedResources: Readonly<Record<string, FieldSpec>> = {
  gpu: misplacedResource("gpu", "gpu: 1"),
  cpu: misplacedResource("cpu", "cpu: 4"),
  memory: misplacedResource("memory", "memory: 16GB"),
  shm_size: misplacedResource("shm_size", "shm_size: 8GB"),
  interruptible: misplacedResource("interruptible", "interruptible: true"),
};

/** What every Python-based provider takes for its environment. */
export const pythonEnvironmentFields: Readonly<Record<string, FieldSpec>> = {
  requirements: requirementsField,
  version: versionField,
  python: renamedToVersion,
  environment: envField,
  env: envField,
  working_dir: workingDirField,
  setup: setupField,
  before_run: setupField,
};

/**
 * Apps and dev environments (`streamlit`, `gradio`, `fastapi`, `code`, `lab`, `notebook`): throughout
 * 2022 their `version` was the app's own (JupyterLab, OpenVSCode Server, Streamlit...) and `python`
 * the Python version (`providers/<name>/README.md`, `docs/providers/code.md`), so both are current names here.
 */
export const appEnvironmentFields: Readonly<Record<string, FieldSpec>> = {
  ...pythonEnvironmentFields,
  python: versionField,
  version: appVersionField,
};
