import { DstackError, isRefusal } from "../errors.js";
import { escapeMarkdown, GITHUB_LIMITS, render, truncate } from "../render.js";
import { approveRun } from "../runs/approve-run.js";
import { resolveRunRequest } from "../runs/resolve-run-request.js";
import { isTerminal, type Run } from "../runs/types.js";
import { COMMAND_LINE_FILE } from "../workflow/command-line/argv-problem.js";
import type { Problem } from "../workflow/types.js";
import { loadWorkflows } from "../workflow/index.js";
import { parseCommands, USAGE, type Command } from "./commands.js";
import { checkPullHead, type HeadChange, type PullHead, type PullHeadApproval } from "./fork-head.js";
import { canWrite, identityKey, permissionOf, type GitHubIdentity } from "./permissions.js";
import type { RequestPriority } from "./rate-gate.js";
import { readWorkflowFiles } from "./read-workflow-files.js";
import { startRunGroup } from "./start-runs.js";
import type { RepoEventDeps } from "./repo-event.js";

/** The comment handler needs what every repository event handler gets. */
export type CommentDeps = RepoEventDeps;

/** The fields of an `issue_comment.created` payload the handler reads. */
export interface CommentPayload {
  installation?: { id: number };
  repository: { name: string; full_name: string; default_branch: string; owner: { login: string } };
  issue: { number: number; pull_request?: unknown };
  comment: { id: number; body: string; created_at: string; user: { login: string; id?: number; type: string } };
  sender?: { type?: string };
}

/** A refusal of a command to a commenter without write permission: its title, and what they may not do. */
const REFUSED: Record<Exclude<Command["kind"], "help" | "invalid">, { title: string; action: string }> = {
  run: { title: "Nothing ran", action: "start runs" },
  stop: { title: "Nothing stopped", action: "stop runs" },
  tag: { title: "Nothing tagged", action: "tag runs" },
  approve: { title: "Nothing approved", action: "approve runs" },
};

/** Dedupe keys live as long as GitHub may redeliver a webhook. */
const DEDUPE_SECONDS = 3 * 24 * 3600;
/** A command's dedupe key holds this once the command was accepted (it earns the 👀). */
const ACCEPTED = "accepted";
/** Comments of one commenter without write permission answered per repository in an hour. */
const OUTSIDER_ANSWERS_PER_HOUR = 10;

/** Counts an answer to `user`, an outsider on `repo`; false once the hour's quota is used up. Keyed by user id: renaming gives no fresh quota. */
async function withinOutsiderQuota(deps: Pick<CommentDeps, "redis" | "prefix">, repo: string, user: GitHubIdentity): Promise<boolean> {
  const key = `${deps.prefix}:outsider-answers:${repo}:${identityKey(user)}`;
  // SET NX starts the hour with the first answer; INCR keeps that expiry. One transaction, so the key never lives without it.
  const res = await deps.redis.multi().set(key, "0", "EX", 3600, "NX").incr(key).exec();
  return Number(res?.[1]?.[1] ?? Infinity) <= OUTSIDER_ANSWERS_PER_HOUR;
}

/**
 * `issue_comment.created`: runs each `/dstack` command of the comment, once (keyed by comment id
 * and line), after checking the commenter may. Accepted commands get a 👀 reaction; refused ones a
 * reply that says why and what to do.
 */
export async function handleComment(deps: CommentDeps, payload: CommentPayload): Promise<void> {
  const { comment, repository, issue } = payload;
  if (comment.user.type === "Bot" || payload.sender?.type === "Bot") return; // never react to bots, ourselves included
  const commands = parseCommands(comment.body ?? "");
  if (commands.length === 0) return;
  const owner = repository.owner.login;
  const repo = repository.name;
  const user = comment.user.login;
  const ctx = { owner, repo, issueNumber: issue.number };
  let accepted = 0;
  let permission: Awaited<ReturnType<typeof permissionOf>> | undefined;
  let target: Promise<Target> | undefined;
  // Anyone may comment on a public repository, and every reply spends the installation's shared
  // budget of content-creating requests (rate-gate.ts): a commenter who may not write gets one reply
  // per comment at most, sent only while the budget has room beyond the share kept for conclusions,
  // so comment spam cannot hold up the runs of every repository of the installation; past
  // OUTSIDER_ANSWERS_PER_HOUR such comments get no answer at all (nor the GitHub reads of `help`).
  let outsiderAnswered = false;

  for (const [index, command] of commands.entries()) {
    const key = `${deps.prefix}:cmd:${repository.full_name}:${comment.id}:${index}`;
    if ((await deps.redis.set(key, "1", "EX", DEDUPE_SECONDS, "NX")) !== "OK") {
      // Done by an earlier attempt of this job: still count it, so a retry after a failed 👀 adds it.
      if ((await deps.redis.get(key)) === ACCEPTED) accepted++;
      continue;
    }
    try {
      permission ??= await permissionOf({ github: deps.github, redis: deps.redis, prefix: deps.prefix }, { owner, repo, user, userId: comment.user.id });
      const writer = canWrite(permission);
      if (!writer) {
        if (outsiderAnswered || !(await withinOutsiderQuota(deps, repository.full_name, comment.user))) continue;
        outsiderAnswered = true;
      }
      const say = { ...ctx, priority: writer ? ("high" as const) : ("low" as const) };
      if (command.kind === "invalid") {
        await reply(deps, say, { command: command.line, title: "This command was not understood", message: command.message, usage: USAGE });
        continue;
      }
      if (command.kind !== "help" && !writer) {
        await reply(deps, say, {
          command: command.line,
          title: REFUSED[command.kind].title,
          message: `@${user} needs write, maintain or admin permission on ${repository.full_name} to ${REFUSED[command.kind].action} (they have \`${permission}\`). Ask a maintainer to comment the command instead.`,
        });
        continue;
      }
      target ??= findTarget(deps, payload);
      const ok = await runCommand(deps, payload, command, await target, key, say.priority);
      if (ok) {
        accepted++;
        await deps.redis.set(key, ACCEPTED, "EX", DEDUPE_SECONDS);
      }
    } catch (err) {
      // Let BullMQ retry transient failures (GitHub or Redis down) from this command on.
      await deps.redis.del(key);
      throw err;
    }
  }
  if (accepted > 0) {
    await deps.github.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
      owner,
      repo,
      comment_id: comment.id,
      content: "eyes",
    });
  }
}

/** Why a fork's head is not run on this command, in the reply's words. */
function headChangeMessage(change: HeadChange): string {
  const sha = `\`${change.sha.slice(0, 7)}\``;
  // One shape for both sources of the time (a record's ISO time with milliseconds, GitHub's `updated_at`).
  const at = `${new Date(change.at).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  switch (change.why) {
    case "unseen":
      return `the pull request's head ${sha} had not reached this service before this command, so it cannot tell that it is the commit the writer reviewed; it has noted it now: a writer must ask again to run it`;
    case "pushed":
      return `the pull request changed after this command (new head ${sha} pushed at ${at}); a writer must ask again`;
    case "updated":
      return `the pull request changed after this command (updated at ${at}, head ${sha}); a writer must ask again`;
  }
}

/** Says that the commit a command reads has no workflows, naming it (a PR's head may predate `.dstack/`). */
function noWorkflowsAt(target: Target): string {
  const where = `\`${target.sha.slice(0, 7)}\`${target.prNumber !== undefined ? ", the pull request's head," : ""}`;
  return `\`.dstack/\` at ${where} defines no workflows: add \`.dstack/workflows.yaml\`, or merge the branch that has it`;
}

/** Where a command runs; `changed`: a fork's head pushed after the comment was written, which the comment does not approve. */
interface Target extends PullHeadApproval {
  sha: string;
  ref: string;
  prNumber?: number;
}

/**
 * A PR runs at its head commit at this moment (pinned), if the comment approves that head
 * (`checkPullHead`); a plain issue at the default branch head.
 */
async function findTarget(deps: Pick<CommentDeps, "github" | "redis" | "prefix">, payload: CommentPayload): Promise<Target> {
  const { github } = deps;
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  if (payload.issue.pull_request !== undefined && payload.issue.pull_request !== null) {
    const pr = (await github.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner, repo, pull_number: payload.issue.number })).data as PullHead & {
      head: { ref: string };
    };
    const approval = await checkPullHead(deps, { repo: payload.repository.full_name, number: payload.issue.number }, pr, {
      createdAt: payload.comment.created_at,
      nowMs: Date.now(),
    });
    return { sha: pr.head.sha, ref: pr.head.ref, prNumber: payload.issue.number, ...approval };
  }
  const branch = payload.repository.default_branch;
  const b = (await github.request("GET /repos/{owner}/{repo}/branches/{branch}", { owner, repo, branch })).data as { commit: { sha: string } };
  return { sha: b.commit.sha, ref: branch, fork: false };
}

async function runCommand(
  deps: CommentDeps,
  payload: CommentPayload,
  command: Exclude<Command, { kind: "invalid" }>,
  target: Target,
  key: string,
  priority: RequestPriority,
): Promise<boolean> {
  const owner = payload.repository.owner.login;
  const repo = payload.repository.name;
  const ctx = { owner, repo, issueNumber: payload.issue.number, priority };
  const fullName = payload.repository.full_name;
  switch (command.kind) {
    case "help": {
      const files = await readWorkflowFiles(deps.github, { owner, repo, ref: target.sha });
      const { workflows, problems } = loadWorkflows(files);
      const errors = problems.filter((p) => p.severity === "error");
      await reply(deps, ctx, {
        command: command.line,
        title: "dstack commands",
        message:
          workflows.length === 0 && errors.length === 0
            ? `${noWorkflowsAt(target)}.`
            : `Workflows of ${fullName} at \`${target.sha.slice(0, 7)}\`${errors.length > 0 ? `; \`.dstack/\` has errors there (below), so none of them runs until they are fixed` : ""}:`,
        problems: errors,
        items: workflows.map((w) => `\`${w.name}\`${w.help !== undefined ? ` — ${escapeMarkdown(w.help)}` : ""}`),
        usage: USAGE,
      });
      return false;
    }
    case "run": {
      if (target.changed !== undefined) {
        await reply(deps, ctx, {
          command: command.line,
          title: "Nothing ran",
          message: headChangeMessage(target.changed),
        });
        return false;
      }
      const files = await readWorkflowFiles(deps.github, { owner, repo, ref: target.sha });
      const resolved = resolveRunRequest(files, command.args, { check: deps.check });
      if (!resolved.ok) {
        await reply(deps, ctx, {
          command: command.line,
          title: resolved.kind === "invalid-files" ? "`.dstack/` has errors at this commit" : "Nothing ran",
          // A PR branched before `.dstack/` was added has none: say so rather than only "not a workflow".
          message: resolved.kind === "invalid-command" && resolved.known.length === 0 ? `${resolved.message}. Note: ${noWorkflowsAt(target)}` : resolved.message,
          // A refused command line's message already joins its problems (and names the workflows when
          // the name is unknown): listing them again, located at `<command line>:1:1`, only repeats it.
          problems: resolved.kind === "invalid-files" ? resolved.problems : [],
        });
        return false;
      }
      let runs: Run[];
      try {
        runs = await startRunGroup(
          { ...deps, log: deps.log },
          {
            onceKey: `${key}:group`,
            repo: fullName,
            installationId: payload.installation?.id,
            commit: target.sha,
            ref: target.ref,
            trigger: {
              kind: "comment",
              actor: payload.comment.user.login,
              prNumber: target.prNumber,
              issueNumber: target.prNumber === undefined ? payload.issue.number : undefined,
              commentId: payload.comment.id,
              fork: target.fork,
            },
            workflows: resolved.workflows,
            target: resolved.target,
            variables: resolved.variables,
            code: { kind: "github" },
            targetRunId: resolved.runId,
          },
        );
      } catch (err) {
        if (!isRefusal(err)) throw err;
        await reply(deps, ctx, { command: command.line, title: "Nothing ran", message: err.message });
        return false;
      }
      deps.log.info({ runs: runs.map((r) => r.id), workflow: resolved.target.name }, "runs submitted from a comment");
      const ignored = resolved.warnings.filter((p) => p.file === COMMAND_LINE_FILE);
      if (ignored.length > 0) {
        // The CLI prints these; a commenter would otherwise learn only from the results that `--epochs 3` did nothing.
        await reply(deps, ctx, { command: command.line, title: `Started, with ${ignored.length === 1 ? "a warning" : "warnings"}`, message: ignored.map((p) => p.message).join("; ") });
      }
      return true;
    }
    case "stop": {
      const run = await deps.store.find(command.runId);
      if (run === undefined || run.repo !== fullName) {
        await reply(deps, ctx, { command: command.line, title: "Nothing stopped", message: `there is no run \`${command.runId}\` in ${fullName}` });
        return false;
      }
      if (isTerminal(run.status)) {
        await reply(deps, ctx, { command: command.line, title: "Nothing stopped", message: `run \`${run.id}\` already ended (${run.status})` });
        return false;
      }
      await deps.store.update(run.id, { stopRequested: `stopped by @${payload.comment.user.login}` });
      await deps.enqueueRun(run.id); // a run waiting for its dependencies has no supervisor right now
      return true;
    }
    case "tag": {
      const run = await deps.store.find(command.runId);
      if (run === undefined || run.repo !== fullName || run.status !== "done") {
        await reply(deps, ctx, {
          command: command.line,
          title: "Nothing tagged",
          message:
            run === undefined || run.repo !== fullName
              ? `there is no run \`${command.runId}\` in ${fullName}`
              : isTerminal(run.status)
                ? `run \`${run.id}\` ended ${run.status}: only successful runs can be tagged`
                : `run \`${run.id}\` is still ${run.status}: only successful runs can be tagged; ask again once it has succeeded`,
        });
        return false;
      }
      await deps.store.tag(run, command.tag);
      return true;
    }
    case "approve": {
      const run = await deps.store.find(command.runId);
      if (run === undefined || run.repo !== fullName) {
        await reply(deps, ctx, { command: command.line, title: "Nothing approved", message: `there is no run \`${command.runId}\` in ${fullName}` });
        return false;
      }
      try {
        await approveRun(deps, run, payload.comment.user, Date.now());
      } catch (err) {
        if (!(err instanceof DstackError)) throw err;
        await reply(deps, ctx, { command: command.line, title: "Nothing approved", message: err.message });
        return false;
      }
      deps.log.info({ runId: run.id, by: payload.comment.user.login }, "run approved over the budget");
      return true;
    }
    default: {
      const never: never = command;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** A reply to a command; a `low` one is skipped when the installation's budget would make it wait (`requestIfFree`). */
async function reply(
  deps: Pick<CommentDeps, "github">,
  ctx: { owner: string; repo: string; issueNumber: number; priority: RequestPriority },
  view: { command: string; title?: string; message: string; items?: string[]; usage?: string[]; problems?: Problem[] },
): Promise<void> {
  const body = render("reply", { ...view, items: view.items ?? [], usage: view.usage ?? [], problems: view.problems ?? [] });
  const send = ctx.priority === "low" && deps.github.requestIfFree !== undefined ? deps.github.requestIfFree.bind(deps.github) : deps.github.request.bind(deps.github);
  await send("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
    owner: ctx.owner,
    repo: ctx.repo,
    issue_number: ctx.issueNumber,
    body: truncate(body, GITHUB_LIMITS.commentBody),
  });
}
