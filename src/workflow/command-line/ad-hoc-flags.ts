import { normaliseArtifactPath, normaliseCheckpointPath } from "../artifact-path.js";
import { parseDependencyRef } from "../dependency-ref.js";
import type { Workflow } from "../types.js";
import type { FlagSpec } from "./parse-argv.js";
import { parseCount, resourceFlags } from "./resource-flags.js";
import type { WithResources } from "./resource-flags.js";

/** The state of an ad-hoc parse: the workflow being built and its resource options. */
export interface AdHocState extends WithResources {
  workflow: Workflow;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VERSION = /^\d+(\.\d+){0,2}$/;

function relative(flag: string, value: string, example: string): string | { error: string } {
  const path = value.trim();
  if (path === "" || path.startsWith("/") || path.split("/").includes("..")) return { error: `\`${flag}\` takes a path inside the repository, e.g. \`${flag} ${example}\`; got \`${value}\`` };
  return path.replace(/^(\.\/)+/, "").replace(/\/+$/, "") || ".";
}

export const requirementsFlag: FlagSpec<AdHocState> = {
  names: ["-r", "--requirements"],
  value: "FILE",
  apply(state, value) {
    const path = relative("--requirements", value, "requirements.txt");
    if (typeof path !== "string") return path.error;
    state.workflow.requirements = path;
    return undefined;
  },
};

export const versionFlag: FlagSpec<AdHocState> = {
  names: ["--python", "--version"],
  value: "VERSION",
  apply(state, value) {
    if (!VERSION.test(value.trim())) return `\`--python\` takes a Python version such as \`3.10\`; got \`${value}\``;
    state.workflow.version = value.trim();
    return undefined;
  },
};

export const envFlag: FlagSpec<AdHocState> = {
  names: ["-e", "--env"],
  value: "NAME=VALUE",
  apply(state, value) {
    const eq = value.indexOf("=");
    const name = eq < 0 ? value : value.slice(0, eq);
    if (!ENV_NAME.test(name)) return `\`--env\` takes \`NAME=VALUE\` (or \`NAME\`); \`${name}\` is not an environment variable name`;
    state.workflow.env[name] = eq < 0 ? "" : value.slice(eq + 1);
    return undefined;
  },
};

export const artifactFlag: FlagSpec<AdHocState> = {
  names: ["-a", "--artifact"],
  value: "PATH",
  apply(state, value) {
    const artifact = normaliseArtifactPath(value);
    if ("error" in artifact) return artifact.error;
    if (!state.workflow.artifacts.some((a) => a.path === artifact.path)) state.workflow.artifacts.push({ path: artifact.path, mount: false });
    return undefined;
  },
};

/** `--checkpoint ckpt`: the `checkpoints:` field, saved on a spot interruption and restored on resume. */
export const checkpointFlag: FlagSpec<AdHocState> = {
  names: ["--checkpoint"],
  value: "PATH",
  apply(state, value) {
    const checkpoint = normaliseCheckpointPath(value);
    if ("error" in checkpoint) return checkpoint.error;
    const list = (state.workflow.checkpoints ??= []);
    if (!list.includes(checkpoint.path)) list.push(checkpoint.path);
    return undefined;
  },
};

export const workingDirFlag: FlagSpec<AdHocState> = {
  names: ["-w", "--working-dir"],
  value: "DIR",
  apply(state, value) {
    const dir = relative("--working-dir", value, "src");
    if (typeof dir !== "string") return dir.error;
    state.workflow.workingDir = dir === "." ? undefined : dir;
    return undefined;
  },
};

export const depFlag: FlagSpec<AdHocState> = {
  names: ["-d", "--dep"],
  value: "DEPENDENCY",
  apply(state, value) {
    const ref = parseDependencyRef(value);
    if ("error" in ref) return ref.error;
    state.workflow.dependsOn.push(ref);
    return undefined;
  },
};

export const commandFlag: FlagSpec<AdHocState> = {
  names: ["-c", "--command"],
  value: "COMMAND",
  apply(state, value) {
    if (value.trim() === "") return "`--command` takes a shell command, e.g. `-c \"python train.py\"`";
    state.workflow.commands.push(value);
    return undefined;
  },
};

export const portsFlag: FlagSpec<AdHocState> = {
  names: ["-p", "--ports"],
  value: "N",
  apply(state, value) {
    const ports = parseCount("--ports", value, 0);
    if (typeof ports === "string") return ports;
    state.workflow.ports = ports;
    return undefined;
  },
};

export const nnodesFlag: FlagSpec<AdHocState> = {
  names: ["--nnodes"],
  value: "N",
  apply(state, value) {
    const nodes = parseCount("--nnodes", value, 1);
    if (typeof nodes === "string") return nodes;
    state.workflow.resources.nodes = nodes;
    return undefined;
  },
};

export const outputFlag: FlagSpec<AdHocState> = {
  names: ["-o", "--output"],
  value: "PATH",
  apply(state, value) {
    const path = relative("--output", value, "data/input.txt");
    if (typeof path !== "string") return path.error;
    state.workflow.output = path;
    return undefined;
  },
};

export const logdirFlag: FlagSpec<AdHocState> = {
  names: ["--logdir"],
  value: "DIR",
  apply(state, value) {
    const dir = relative("--logdir", value, "lightning_logs");
    if (typeof dir !== "string") return dir.error;
    state.workflow.logdir = dir;
    return undefined;
  },
};

/** What every provider but curl takes (dstack's `_add_base_args`, plus `--dep` as it was meant). */
export const baseFlags: readonly FlagSpec<AdHocState>[] = [
  requirementsFlag,
  envFlag,
  artifactFlag,
  checkpointFlag,
  workingDirFlag,
  depFlag,
  ...resourceFlags<AdHocState>(),
];
