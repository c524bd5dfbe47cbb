import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { JobSpec } from "./job-spec.js";
import { assertWorkflowFile } from "./missing-file.js";
import { findPython, preparePythonEnv, type Output } from "./python-env.js";

/** One program to run, as an argument array (never a shell string built from user input). */
export interface Step {
  label: string;
  exe: string;
  args: string[];
}

export interface Prepared {
  steps: Step[];
  /** Work done in-process instead of a child (curl downloads). */
  inProcess?: (signal: AbortSignal) => Promise<void>;
}

export interface PrepareDeps {
  out: Output;
  /** The code's root (the working directory is inside it), searched for a misplaced `file`. */
  repoDir?: string;
  cacheDir: string;
  env: NodeJS.ProcessEnv;
}

/** Joins shell lines into one `bash -e` script: the first failing line fails the step, like dstack's bash provider. */
function bashStep(label: string, lines: string[]): Step {
  return { label, exe: "bash", args: ["-e", "-o", "pipefail", "-c", lines.join("\n")] };
}

/**
 * Turns a workflow into the steps the agent runs in `cwd`. Each provider's quirks live here:
 * python gets a cached virtualenv when it has requirements and `-u` so its output streams live.
 */
export async function prepareProvider(deps: PrepareDeps, job: JobSpec, cwd: string): Promise<Prepared> {
  const w = job.workflow;
  switch (w.provider) {
    case "bash": {
      if (w.commands.length === 0) throw new Error("the bash provider needs `commands`");
      return { steps: [bashStep("commands", [...w.setup, ...w.commands])] };
    }
    case "python": {
      if (w.file === undefined) throw new Error("the python provider needs `file`");
      // Checked before the interpreter is looked for and the requirements installed (seconds to minutes).
      const at = { cwd, repoDir: deps.repoDir ?? cwd, workingDir: w.workingDir };
      assertWorkflowFile("file", w.file, at);
      if (w.requirements !== undefined) assertWorkflowFile("requirements file", w.requirements, at);
      let python = await findPython(w.version);
      if (w.requirements !== undefined) {
        python = await preparePythonEnv(deps, { python, requirementsFile: w.requirements, cwd });
        // Put the venv first on PATH so `setup` commands and subprocesses use it too.
        deps.env.PATH = `${path.dirname(python)}${path.delimiter}${deps.env.PATH ?? ""}`;
        deps.env.VIRTUAL_ENV = path.dirname(path.dirname(python));
      }
      const steps: Step[] = [];
      if (w.setup.length > 0) steps.push(bashStep("setup", w.setup));
      steps.push({ label: w.file, exe: python, args: ["-u", w.file, ...w.args] });
      return { steps };
    }
    case "docker": {
      if (w.image === undefined) throw new Error("the docker provider needs `image`");
      await assertDockerEngine();
      const envArgs = Object.keys(job.env).flatMap((k) => ["-e", k]);
      const cmd = [...w.setup, ...w.commands];
      return {
        steps: [
          {
            label: `docker ${w.image}`,
            exe: "docker",
            args: [
              "run",
              "--rm",
              "-v",
              `${cwd}:/workflow`,
              "-w",
              "/workflow",
              ...envArgs,
              w.image,
              ...(cmd.length > 0 ? ["bash", "-e", "-o", "pipefail", "-c", cmd.join("\n")] : []),
            ],
          },
        ],
      };
    }
    case "curl": {
      if (w.url === undefined) throw new Error("the curl provider needs `url`");
      const url = w.url;
      const output = w.output ?? path.basename(new URL(url).pathname) ?? "download";
      return {
        steps: [],
        inProcess: async (signal) => {
          deps.out.write(`[dstack] downloading ${url} to ${output}\n`);
          const res = await fetch(url, { signal, redirect: "follow" });
          if (!res.ok || res.body === null) throw new Error(`GET ${url} answered ${res.status}`);
          const dest = path.resolve(cwd, output);
          await mkdir(path.dirname(dest), { recursive: true });
          await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(dest));
          deps.out.write(`[dstack] downloaded ${output}\n`);
        },
      };
    }
    default:
      throw new Error(`the ${w.provider} provider is not supported by this runner yet`);
  }
}

/** The local backend has no Docker engine on many machines: say so plainly instead of a socket error. */
async function assertDockerEngine(): Promise<void> {
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
  if (!ok) {
    throw new Error("the docker provider needs a Docker engine on the runner, and none answers here (is dockerd running?)");
  }
}
