import type { Probot } from "probot";
import type { GitHubClient } from "./github/client.js";
import { handleComment, type CommentDeps, type CommentPayload } from "./github/handle-comment.js";

export type AppDeps = Omit<CommentDeps, "github" | "log">;

/**
 * The Probot app: registers handlers only. Handlers run in workers (the webhook intake enqueues
 * the event, a worker calls `probot.receive`), with an Octokit authenticated as the installation.
 */
export function createApp(deps: AppDeps) {
  return (app: Probot): void => {
    app.on("issue_comment.created", async (context) => {
      await handleComment(
        { ...deps, github: context.octokit as unknown as GitHubClient, log: context.log },
        context.payload as unknown as CommentPayload,
      );
    });
  };
}
