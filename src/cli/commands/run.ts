import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { RunJson } from "../../api/v1/run-json.js";
import { InvalidInputError } from "../../errors.js";
import { refusalMessage } from "../../runs/refusal-message.js";
import { resolveRunRequest } from "../../runs/resolve-run-request.js";
import { formatProblem, type SourceFile } from "../../workflow/index.js";
import type { ApiClient } from "../api-client.js";
import type { CommandContext } from "../command-context.js";
import { connect } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { pathFromCwd } from "../find-dstack-root.js";
import { followToEnd } from "../follow-log.js";
import { formatBytes } from "../format.js";
import { currentBranch, gitRoot, headCommit, localChanges, repoOf, workingTreeFiles } from "../git-repo.js";
import { DEFAULT_UPLOAD_LIMIT_BYTES, packFiles } from "../pack-files.js";
import { readDstackFolder } from "../read-dstack-folder.js";

type Code = { kind: "upload"; upload: string } | { kind: "github"; overlay?: string; deleted: string[] };

/**
 * `dstack run <workflow|provider> [args] [-f] [--repo owner/name]`: submits the run at the checkout's
 * commit with its local changes (sent as changed files laid over the commit), or, when the service
 * cannot fetch that commit from GitHub, with the whole working tree uploaded.
 */
export function registerRun(program: Command, ctx: CommandContext): void {
  program
    .command("run")
    .description(
      `run a workflow of .dstack/workflows.yaml (or a provider ad hoc: \`run python train.py --gpu 1\`) at this checkout, local changes included; ` +
        `without GitHub access to the commit the working tree is uploaded (tracked and untracked files, not ignored ones; at most the service's DSTACK_MAX_CODE_UPLOAD_BYTES gzipped, by default ${DEFAULT_UPLOAD_LIMIT_BYTES / (1024 * 1024)} MiB)`,
    )
    .argument("<workflow|provider>", "a workflow name, or a provider (python, bash, docker, curl) for an ad-hoc run")
    .argument("[args...]", "the workflow's arguments and variables (`--epochs 10`), resource flags (`--gpu 2`), or the provider's arguments")
    .option("-f, --follow", "stream the log until the run ends; exit 0 only when it ends done")
    .option("--repo <owner/name>", "the repository (default: the origin remote's last two path segments)")
    .option("--json", "print the submitted runs as JSON instead of the run id (with --follow, the log goes to stderr)")
    // Everything else (--gpu 2, -r requirements.txt, --epochs 10) belongs to the workflow.
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (target: string, args: string[], options: { follow?: boolean; repo?: string; json?: boolean }) => {
      refuseOptionAsTarget(target);
      const root = await gitRoot(ctx.cwd);
      const repo = await repoOf(root, options.repo);
      const client = await connect(ctx);
      const commit = await headCommit(root);
      const files: SourceFile[] = existsSync(path.join(root, ".dstack")) ? await readDstackFolder(root, "the repository") : [];
      // The service decides, with the same model; asking it first here spares uploading code for a typo.
      const local = resolveRunRequest(files, [target, ...args]);
      if (!local.ok) {
        const problems = local.problems.map((p) => ({ ...p, file: pathFromCwd(ctx.cwd, root, p.file) }));
        if (local.kind === "invalid-files" && problems.length > 0) {
          // One line each, as `dstack validate` and compilers print them, then what to do.
          for (const problem of problems) ctx.io.err(`${formatProblem(problem)}\n`);
          throw new InvalidInputError(`${local.message} (\`dstack validate\` checks them without running anything)`, "invalid_workflow_file");
        }
        throw new InvalidInputError(refusalMessage({ ...local, problems }), local.kind === "invalid-files" ? "invalid_workflow_file" : "invalid_command");
      }
      const code = await sendCode(ctx, client, { root, repo, commit });
      const submitted = await client.json<{ run: RunJson; runs: RunJson[]; warnings: string[] }>("/api/v1/runs", {
        method: "POST",
        json: { repo, run: [target, ...args], files, ...(commit !== undefined ? { commit } : {}), ref: await currentBranch(root), code },
      });
      // Each warning is already `file:line:col: warning: message`, the path relative to the repository's top.
      for (const w of submitted.warnings) ctx.io.err(`dstack: ${w.startsWith(".dstack/") ? pathFromCwd(ctx.cwd, root, w) : w}\n`);
      const run = submitted.run;
      const deps = submitted.runs.filter((r) => r.id !== run.id);
      ctx.io.err(`dstack: run ${run.id} (${run.workflow}) submitted${deps.length > 0 ? ` after ${deps.map((d) => `${d.id} (${d.workflow})`).join(", ")}` : ""}: ${run.url}\n`);
      if (options.json === true) ctx.io.out(`${JSON.stringify(submitted.runs, null, 2)}\n`);
      if (options.follow === true) {
        // With --json, stdout stays one JSON document: the log goes to stderr.
        ctx.exit(await followToEnd(ctx, client, run.id, options.json === true ? ctx.io.err : ctx.io.out));
        return;
      }
      if (options.json !== true) ctx.io.out(`${run.id}\n`);
      ctx.exit(ExitCode.ok);
    });
}

/**
 * `allowUnknownOption` hands an unknown option written before the workflow (`dstack run --gpu 1 train`)
 * over as the workflow's name; say what it is instead of "`--gpu` is neither a workflow nor a provider".
 */
function refuseOptionAsTarget(target: string): void {
  if (!target.startsWith("-")) return;
  throw new InvalidInputError(
    `unknown option \`${target}\` of \`dstack run\`: name the workflow (or provider) first, then its arguments: \`dstack run <workflow|provider> ${target} ...\``,
    "invalid_command",
  );
}

/** Uploads what the run needs of the local files and says so on stderr. */
async function sendCode(ctx: CommandContext, client: ApiClient, input: { root: string; repo: string; commit: string | undefined }): Promise<Code> {
  const { root, repo, commit } = input;
  let reason = "the checkout has no commit yet";
  if (commit !== undefined) {
    const access = await client.json<{ available: boolean; reason?: string }>(
      `/api/v1/repos/${repo.split("/").map(encodeURIComponent).join("/")}/commits/${commit}/code`,
    );
    if (access.available) {
      const changes = await localChanges(root);
      if (changes.changed.length === 0 && changes.deleted.length === 0) return { kind: "github", deleted: [] };
      const packed = await packFiles(root, changes.changed, "the local changes");
      warnOverDefault(ctx, packed.warning);
      const upload = await uploadTarball(client, packed.tarball, repo);
      ctx.io.err(
        `dstack: sending local changes on top of ${commit.slice(0, 12)}: ${changes.changed.length} changed or new file(s) (${formatBytes(packed.sizeBytes)}), ${changes.deleted.length} deleted\n`,
      );
      return { kind: "github", overlay: upload, deleted: changes.deleted };
    }
    reason = access.reason ?? "the service cannot fetch the commit";
  }
  const tree = await workingTreeFiles(root);
  const packed = await packFiles(root, tree, "the working tree");
  ctx.io.err(`dstack: ${reason}: uploading the working tree instead (${tree.length} file(s), ${formatBytes(packed.sizeBytes)})\n`);
  warnOverDefault(ctx, packed.warning);
  return { kind: "upload", upload: await uploadTarball(client, packed.tarball, repo) };
}

/** Says, before sending it, that an upload is over the default limit (the service's own limit decides). */
function warnOverDefault(ctx: CommandContext, warning: string | undefined): void {
  if (warning !== undefined) ctx.io.err(`dstack: warning: ${warning}\n`);
}

/** The repository is named so that the service can check a personal token's write permission on it. */
async function uploadTarball(client: ApiClient, tarball: Buffer, repo: string): Promise<string> {
  const res = await client.json<{ upload: string }>(`/api/v1/uploads?repo=${encodeURIComponent(repo)}`, { method: "POST", body: tarball, headers: { "content-type": "application/gzip" } });
  return res.upload;
}
