import type { Probot } from "probot";
import type { GitHubClient } from "./github/client.js";
import { handleCheckRun, type CheckRunPayload } from "./github/handle-check-run.js";
import { handleComment, type CommentDeps, type CommentPayload } from "./github/handle-comment.js";
import { handlePullRequest, type PullRequestPayload } from "./github/handle-pull-request.js";
import { handlePush, type PushPayload } from "./github/handle-push.js";
import { handleCreate, handleDelete, type RefPayload } from "./github/handle-tag.js";

export type AppDeps = Omit<CommentDeps, "github" | "log"> & {
  /** Puts an event's installation client behind the shared GitHub rate gate (default: used as it is). */
  guardGitHub?: (client: GitHubClient, installationId: number) => GitHubClient;
};

/**
 * The Probot app: registers handlers only. Handlers run in workers (the webhook intake enqueues
 * the event, a worker calls `probot.receive`), with an Octokit authenticated as the installation.
 * Only `issue_comment.created` runs commands: an edited comment's commands never run again. The
 * intake drops other deliveries before they are queued (`isHandled`): keep both in step.
 */
export function createApp(deps: AppDeps) {
  const installationClient = (context: { octokit: unknown; payload: unknown }): GitHubClient => {
    const client = context.octokit as unknown as GitHubClient;
    const installationId = (context.payload as { installation?: { id?: number } }).installation?.id;
    return installationId === undefined || deps.guardGitHub === undefined ? client : deps.guardGitHub(client, installationId);
  };
  return (app: Probot): void => {
    app.on("issue_comment.created", async (context) => {
      await handleComment(
        { ...deps, github: installationClient(context), log: context.log },
        context.payload as unknown as CommentPayload,
      );
    });
    app.on("push", async (context) => {
      await handlePush({ ...deps, github: installationClient(context), log: context.log }, context.payload as unknown as PushPayload);
    });
    app.on("create", async (context) => {
      await handleCreate({ ...deps, github: installationClient(context), log: context.log }, context.payload as unknown as RefPayload);
    });
    app.on("delete", async (context) => {
      await handleDelete({ ...deps, github: installationClient(context), log: context.log }, context.payload as unknown as RefPayload);
    });
    app.on(["pull_request.opened", "pull_request.reopened", "pull_request.synchronize"], async (context) => {
      await handlePullRequest(
        { ...deps, github: installationClient(context), log: context.log },
        context.payload as unknown as PullRequestPayload,
      );
    });
    app.on(["check_run.rerequested", "check_run.requested_action"], async (context) => {
      await handleCheckRun(
        { ...deps, github: installationClient(context), log: context.log },
        context.payload as unknown as CheckRunPayload,
        context.id,
      );
    });
  };
}
