import { startRepoFixture, type RepoFixture, type RepoFixtureOptions } from "./repo-fixture.js";
import { WEBHOOK_SECRET } from "./service.js";
import { makeIssueCommentPayload, signAndSend, type IssueCommentCreatedPayload, type IssueCommentPayloadOptions } from "./webhooks.js";

/** A repository with a pull request on the GitHub double, and the whole service watching it. */
export interface PrFixture extends RepoFixture {
  /** The pull request's number and head commit (branch `feature`, one commit past `main`). */
  pr: number;
  headSha: string;
  /** Posts `body` as a comment on the double (on the pull request by default) and delivers its `issue_comment` webhook, signed. */
  comment(body: string, user?: string, options?: CommentOptions): Promise<SentComment>;
}

/** Default: a new comment by a user (not a bot) on the fixture's pull request. */
interface CommentOptions extends Partial<Pick<IssueCommentPayloadOptions, "issueNumber" | "isPullRequest" | "userType">> {
  /** The webhook's `action`. Default: `created`. */
  action?: string;
}

interface SentComment {
  status: number;
  body: string;
  deliveryId: string;
  commentId: number;
  /** The delivered payload, to deliver again. */
  payload: IssueCommentCreatedPayload;
}

export async function startPrFixture(options: RepoFixtureOptions): Promise<PrFixture> {
  const fixture = await startRepoFixture(options);
  const { github, owner, repo } = fixture;
  github.createBranch(owner, repo, "feature");
  const headSha = github.commit(owner, repo, { "feature.txt": "x\n" }, { branch: "feature" });
  const pr = github.addPullRequest({ owner, repo, headRef: "feature" });
  let nextComment = 1;
  return {
    ...fixture,
    pr,
    headSha,
    async comment(body, user = "alice", options = {}) {
      const commentId = nextComment++;
      const issueNumber = options.issueNumber ?? pr;
      github.addIssueComment({ owner, repo, issueNumber, body, user, id: commentId });
      const payload = makeIssueCommentPayload({ owner, repo, issueNumber, isPullRequest: options.isPullRequest ?? true, body, user, commentId, userType: options.userType });
      if (options.action !== undefined) (payload as { action: string }).action = options.action;
      const res = await signAndSend(fixture.service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
      return { ...res, commentId, payload };
    },
  };
}
